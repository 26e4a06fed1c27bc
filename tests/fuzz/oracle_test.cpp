// The fuzz targets' oracle on HQ (fuzz_support.hpp, answerProblem and bundleRefusalProblem): a 500, any
// other 5xx but a 503 on a nearly full disk, a 429, an answer that is not JSON, and a bundle refused as
// an internal or storage failure are findings; 200 and the other 4xx are not. CTest runs it with the
// short fuzz runs (fuzz-oracle); it exits 1 naming each wrong verdict.
#include <cstdio>
#include <string>

#include "fuzz_support.hpp"
#include "storage/hq/store.hpp"

using namespace outpost;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
    if (ok) return;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
}

sync::Response answer(int status, std::string body = R"({"error":{"code":"x","message":"y"}})") {
    sync::Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

// An HQ whose store cannot be opened, failing as told: its handlers answer 500 or 503 for every request.
sync::Response helloFromBrokenStore(const fuzz::FuzzHq& h, ErrorCode code) {
    hq::HqService broken(
        [code]() -> Result<std::unique_ptr<storage::hq::HqStore>> {
            return Error{code == ErrorCode::Internal ? ErrorDomain::Internal : ErrorDomain::Storage, code,
                         "broken"};
        },
        h.identity);
    return broken.handle(h.base("GET", "/v1/hello"));
}

}  // namespace

int main() {
    const fuzz::FuzzHq& h = fuzz::hq();
    expect(!fuzz::storeDiskNearlyFull(h), "the fuzz store's disk has room (the checks below assume it)");

    // Real answers of HQ's handlers.
    const sync::Response hello = h.service->handle(h.base("GET", "/v1/hello"));
    expect(hello.status == 200 && fuzz::answerProblem(h, hello).empty(), "hello (200) is accepted");
    sync::Request unsigned_ = h.base("GET", "/v1/pull?after=0");
    const sync::Response refused = h.service->handle(unsigned_);
    expect(refused.status == 401 && fuzz::answerProblem(h, refused).empty(),
           "an unsigned pull (401) is accepted");
    const sync::Response internal = helloFromBrokenStore(h, ErrorCode::Internal);
    expect(internal.status == 500 && !fuzz::answerProblem(h, internal).empty(), "a 500 is a finding");
    const sync::Response unavailable = helloFromBrokenStore(h, ErrorCode::DiskFull);
    expect(unavailable.status == 503 && !fuzz::answerProblem(h, unavailable).empty(),
           "a 503 while the disk has room is a finding");

    // The statuses and bodies themselves.
    for (int status : {400, 401, 403, 404, 409, 410, 413, 415, 422, 426})
        expect(fuzz::answerProblem(h, answer(status)).empty(), std::to_string(status) + " is accepted");
    for (int status : {100, 204, 301, 429, 500, 501, 502, 504})
        expect(!fuzz::answerProblem(h, answer(status)).empty(), std::to_string(status) + " is a finding");
    expect(!fuzz::answerProblem(h, answer(400, "not json")).empty(), "a body that is not JSON is a finding");

    // Refused bundles.
    expect(fuzz::bundleRefusalProblem(h, Error{ErrorDomain::Input, ErrorCode::BadInput, "truncated"}).empty(),
           "a damaged file is a refusal");
    expect(fuzz::bundleRefusalProblem(h, Error{ErrorDomain::Auth, ErrorCode::BadInput, "signature"}).empty(),
           "a bad signature is a refusal");
    expect(!fuzz::bundleRefusalProblem(
                h, Error{ErrorDomain::Internal, ErrorCode::Internal, "push 1 of 1: HQ answered 500 internal"})
                .empty(),
           "a handler's 500 in a bundle is a finding");
    expect(!fuzz::bundleRefusalProblem(h, Error{ErrorDomain::Storage, ErrorCode::Io, "503"}).empty(),
           "a storage failure while the disk has room is a finding");
    expect(!fuzz::bundleRefusalProblem(h, Error{ErrorDomain::Input, ErrorCode::BadInput, ""}).empty(),
           "a refusal without a message is a finding");

    if (failures == 0) std::printf("the fuzz oracle reports what it must\n");
    return failures == 0 ? 0 : 1;
}
