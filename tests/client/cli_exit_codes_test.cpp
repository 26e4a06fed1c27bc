// The one table of exit codes outpostctl and outpost-hq share: every error has a code, every code one
// meaning, and docs/cli.md lists exactly these codes.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

#include "cli/exit_code.hpp"
#include "support/test_support.hpp"

using namespace outpost;
using cli::ExitCode;

namespace {

std::set<int> tableCodes() {
    std::set<int> codes;
    for (const auto& row : cli::kExitCodes) codes.insert(cli::exitStatus(row.code));
    return codes;
}

// The codes of the table under "## Exit codes" in docs/cli.md (rows "| N | ...").
std::set<int> documentedCodes() {
    std::istringstream doc(test::readFile(test::sourcePath("docs/cli.md")));
    std::set<int> codes;
    bool inTable = false;
    const std::regex row(R"(^\| *([0-9]+) *\|)");
    for (std::string line; std::getline(doc, line);) {
        if (line.rfind("## ", 0) == 0) inTable = line == "## Exit codes";
        std::smatch m;
        if (inTable && std::regex_search(line, m, row)) CHECK(codes.insert(std::stoi(m[1])).second);
    }
    return codes;
}

}  // namespace

TEST_CASE("cli exit codes: every error maps to a documented code, and no two meanings share one",
          "[client][cli]") {
    const auto codes = tableCodes();
    // One row per code, in order, each with its own name and meaning.
    CHECK(codes.size() == cli::kExitCodes.size());
    std::set<std::string_view> names, meanings;
    for (std::size_t i = 0; i < cli::kExitCodes.size(); ++i) {
        const auto& row = cli::kExitCodes[i];
        INFO("exit code " << cli::exitStatus(row.code));
        CHECK(names.insert(row.name).second);
        CHECK(meanings.insert(row.meaning).second);
        CHECK_FALSE(row.meaning.empty());
        if (i > 0) CHECK(cli::exitStatus(cli::kExitCodes[i - 1].code) < cli::exitStatus(row.code));
        CHECK(cli::exitStatus(row.code) >= 0);
        CHECK(cli::exitStatus(row.code) < 126);  // the shell's own meanings start at 126
    }
    CHECK(cli::exitStatus(ExitCode::Ok) == 0);

    // docs/cli.md lists exactly the table's codes.
    CHECK(documentedCodes() == codes);

    // Every error, whatever its domain and code, has a code of the table; none says "done".
    for (int d = 0; d <= static_cast<int>(ErrorDomain::Internal); ++d)
        for (int c = 0; c <= static_cast<int>(ErrorCode::Internal); ++c) {
            Error e{static_cast<ErrorDomain>(d), static_cast<ErrorCode>(c), "x"};
            INFO("domain " << d << ", code " << c);
            const int status = cli::exitStatus(cli::exitCodeFor(e));
            CHECK(codes.count(status) == 1);
            CHECK(status != 0);
        }
}

TEST_CASE("cli exit codes: the field laptop's documented numbers, which outpost-hq now shares",
          "[client][cli]") {
    auto code = [](ErrorDomain d, ErrorCode c) {
        return cli::exitStatus(cli::exitCodeFor(Error{d, c, "x"}));
    };
    CHECK(code(ErrorDomain::Input, ErrorCode::BadInput) == 7);
    CHECK(code(ErrorDomain::Validation, ErrorCode::Invalid) == 2);
    CHECK(code(ErrorDomain::NotFound, ErrorCode::NotFound) == 3);
    CHECK(code(ErrorDomain::Auth, ErrorCode::WrongKey) == 4);    // outpostctl's and HQ's conduct keys alike
    CHECK(code(ErrorDomain::Crypto, ErrorCode::WrongKey) == 4);  // a key a section was not sealed to
    CHECK(code(ErrorDomain::Auth, ErrorCode::Forbidden) == 4);   // a role that may not do this
    CHECK(code(ErrorDomain::Auth, ErrorCode::BadInput) == 4);    // a bundle not signed by its device
    CHECK(code(ErrorDomain::Storage, ErrorCode::DiskFull) == 5);
    CHECK(code(ErrorDomain::Storage, ErrorCode::Io) == 5);
    CHECK(code(ErrorDomain::Storage, ErrorCode::Busy) == 5);
    CHECK(code(ErrorDomain::Crypto, ErrorCode::Corrupt) == 5);
    CHECK(code(ErrorDomain::State, ErrorCode::Conflict) == 6);  // HQ: was 4
    CHECK(code(ErrorDomain::Storage, ErrorCode::Conflict) == 6);
    CHECK(code(ErrorDomain::Network, ErrorCode::Io) == 9);
    CHECK(code(ErrorDomain::Protocol, ErrorCode::BadInput) == 9);
    CHECK(code(ErrorDomain::Protocol, ErrorCode::Conflict) == 9);   // another protocol version, at either end
    CHECK(code(ErrorDomain::Internal, ErrorCode::Internal) == 70);  // HQ: was 1
    CHECK(cli::exitStatus(ExitCode::Usage) == 1);                   // HQ: was 2, with bad input
    CHECK(cli::exitStatus(ExitCode::Verify) == 8);                  // HQ: was 5, with storage
    CHECK(cli::exitStatus(ExitCode::Revoked) == 10);
    CHECK(cli::exitStatus(ExitCode::Held) == 11);
}
