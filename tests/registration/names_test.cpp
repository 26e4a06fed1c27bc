// Test cases whose names hold every character that CTest registration has to carry through: ';' (a
// CMake list separator), ',' '[' ']' '\' (Catch2 test spec syntax) and quotes. Each must become exactly
// one CTest test that runs exactly this test case (tests/registration/check.cmake checks it, and
// check_test.cmake shows that Catch2's own CatchAddTests.cmake splits the first one in two).
#include <catch2/catch.hpp>

#include <string>

TEST_CASE("a name with a semicolon; it is one test case", "[registration]") {
    CHECK(Catch::getResultCapture().getCurrentTestName() == "a name with a semicolon; it is one test case");
}

TEST_CASE("a name with two;semicolons;and no spaces", "[registration]") {
    CHECK(Catch::getResultCapture().getCurrentTestName() == "a name with two;semicolons;and no spaces");
}

TEST_CASE("a name with commas, [brackets] and a backslash \\ in it", "[registration]") {
    CHECK(Catch::getResultCapture().getCurrentTestName() ==
          "a name with commas, [brackets] and a backslash \\ in it");
}

TEST_CASE("a name with \"quotes\" and a closing ]=] in it", "[registration]") {
    CHECK(Catch::getResultCapture().getCurrentTestName() == "a name with \"quotes\" and a closing ]=] in it");
}

TEST_CASE("a plain name", "[registration]") {
    CHECK(std::string("plain").size() == 5);
}
