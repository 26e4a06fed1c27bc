// What every screen of the field client is to the shell: a panel object with a lifecycle.
//
// The shell (ui/shell.cpp) owns one panel per screen and routes to the current one. A panel draws the
// App's view-models and calls its commands; everything purely visual (open flags, filter text, scroll
// requests, text being typed) lives in the panel object. All calls come from the UI thread, inside an
// ImGui frame.
#pragma once

#include "client/app.hpp"
#include "ui/input.hpp"

namespace outpost::ui {

class Panel {
public:
    virtual ~Panel() = default;

    // The screen became the current one (it was not drawn on the previous frame): re-read what may have
    // changed while it was away. Called just before the first draw() of each visit.
    virtual void onEnter(client::App& app) { (void)app; }

    // Draws the screen into the current ImGui window. It may throw only on a defect: the shell catches
    // that, restores ImGui's stacks and shows the error in place of the screen.
    virtual void draw(client::App& app, FrameInput& in) = 0;

    // Lock, switch of user or panic wipe: zero anything sensitive the panel holds (passphrases, values
    // being typed, search words) and forget every other state, as a new panel would be.
    virtual void wipe() = 0;
};

}  // namespace outpost::ui
