// Compiled only by the arrows-refuse-wrong-include test, with the field client's include folders: the
// control, which must compile (the failure of the other probe is its include, nothing else).
#include "sync/client.hpp"
#include "client/app.hpp"
