// outpostctl entry point: the field store's commands (client/cli.cpp) and demo-seed (demo/demo_seed.cpp).
#include <iostream>

#include "client/cli.hpp"
#include "demo/demo_seed.hpp"

int main(int argc, char** argv) {
    return outpost::client::runCli(argc, argv, std::cout, std::cerr, {outpost::demo::demoSeedCommand()});
}
