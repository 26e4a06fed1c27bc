// Compiled only by the arrows-refuse-wrong-include test, with the field client's include folders: the
// field client may not use HQ's server, so this must not compile.
#include "hq/service.hpp"
