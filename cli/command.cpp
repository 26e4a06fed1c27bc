// Running a command line and reading its secrets: what outpostctl and outpost-hq share.
#include "cli/command.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <ostream>

#include "cli/output.hpp"
#include "cli/terminal.hpp"

namespace outpost::cli {

int runCommandLine(CLI::App& app, int argc, char** argv, std::ostream& out, std::ostream& err,
                   const std::function<void()>& action) {
    const std::string program = app.get_name();
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        out << app.help();
        return exitStatus(ExitCode::Ok);
    } catch (const CLI::CallForAllHelp&) {
        out << app.help("", CLI::AppFormatMode::All);
        return exitStatus(ExitCode::Ok);
    } catch (const CLI::ParseError& e) {
        err << program << ": " << e.what() << "\n(run '" << program << " --help' for the commands)\n";
        return exitStatus(ExitCode::Usage);
    }
    if (!action) {
        err << program << ": no command given\n";
        return exitStatus(ExitCode::Usage);
    }
    try {
        action();
        return exitStatus(ExitCode::Ok);
    } catch (const CommandError& f) {
        err << program << ": " << printable(f.message, true) << "\n";
        return exitStatus(f.code);
    } catch (const Failure& f) {
        err << program << ": " << printable(f.error().message, true) << "\n";
        return exitStatus(exitCodeFor(f.error()));
    } catch (const std::exception& e) {
        err << program << ": internal error: " << printable(e.what(), true) << "\n";
        return exitStatus(ExitCode::Internal);
    }
}

std::string readSecret(const SecretSource& source, const std::string& program) {
    if (const char* e = std::getenv(source.envVar.c_str()); e && *e) return e;
    auto first = readSecretFromTerminal(source.prompt);
    if (!first)
        fail(ExitCode::Auth, "no passphrase: set " + source.envVar + " or run " + program + " in a terminal");
    if (!source.repeatPrompt.empty() && readSecretFromTerminal(source.repeatPrompt) != first)
        fail(ExitCode::Usage, "the two passphrases differ; " + source.whenDiffer);
    return *first;
}

}  // namespace outpost::cli
