// outpostctl entry point.
#include <iostream>

#include "client/cli.hpp"

int main(int argc, char** argv) {
    return outpost::client::runCli(argc, argv, std::cout, std::cerr);
}
