// outpost-hq entry point.
#include <iostream>

#include "hq/cli.hpp"

int main(int argc, char** argv) {
    return outpost::hq::runHqCli(argc, argv, std::cout, std::cerr);
}
