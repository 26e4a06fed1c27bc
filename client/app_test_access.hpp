// Tests only: the App's own Store, which the UI cannot reach (it reads view-models and calls commands).
#pragma once

#include "client/app.hpp"

namespace outpost::client {

struct AppTestAccess {
    // The open Store, or nullptr while the App is locked.
    static storage::Store* store(App& app) { return app.m_store.get(); }
};

}  // namespace outpost::client
