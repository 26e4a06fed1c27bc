// Tests for MGRS -> WGS84 conversion (reference points and round trips) and lat/lon range checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>

#include "core/location.hpp"

using namespace outpost::core;

namespace {

// Distance in metres between two nearby points (equirectangular: plenty for a few metres).
double metresBetween(LatLon a, LatLon b) {
    const double kMetresPerDegree = 111319.49;
    const double dLat = (a.lat - b.lat) * kMetresPerDegree;
    const double dLon =
        (a.lon - b.lon) * kMetresPerDegree * std::cos((a.lat + b.lat) / 2 * std::numbers::pi / 180);
    return std::hypot(dLat, dLon);
}

// An independent forward conversion for round trips: the USGS series for transverse Mercator
// (Snyder, "Map Projections: A Working Manual", 1987, pp. 60-61), which shares no code and no
// method with the Krüger-series inverse under test.
struct Utm {
    int zone;
    double easting, northing;  // northing with the 10,000 km false northing south of the equator
};

Utm snyderForward(double latDeg, double lonDeg, int zoneOverride = 0) {
    const double a = 6378137.0, f = 1 / 298.257223563, k0 = 0.9996;
    const double e2 = f * (2 - f), e4 = e2 * e2, e6 = e4 * e2, ep2 = e2 / (1 - e2);
    const double deg = std::numbers::pi / 180;
    const int zone = zoneOverride != 0 ? zoneOverride : static_cast<int>(std::floor((lonDeg + 180) / 6)) + 1;
    const double phi = latDeg * deg, lam = lonDeg * deg, lam0 = (zone * 6 - 183) * deg;
    const double sinPhi = std::sin(phi), cosPhi = std::cos(phi), tanPhi = std::tan(phi);
    const double nu = a / std::sqrt(1 - e2 * sinPhi * sinPhi);
    const double t = tanPhi * tanPhi, c = ep2 * cosPhi * cosPhi, A = (lam - lam0) * cosPhi;
    const double m =
        a * ((1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi -
             (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * std::sin(2 * phi) +
             (15 * e4 / 256 + 45 * e6 / 1024) * std::sin(4 * phi) - (35 * e6 / 3072) * std::sin(6 * phi));
    const double x = k0 * nu *
                     (A + (1 - t + c) * std::pow(A, 3) / 6 +
                      (5 - 18 * t + t * t + 72 * c - 58 * ep2) * std::pow(A, 5) / 120);
    const double y = k0 * (m + nu * tanPhi *
                                   (A * A / 2 + (5 - t + 9 * c + 4 * c * c) * std::pow(A, 4) / 24 +
                                    (61 - 58 * t + t * t + 600 * c - 330 * ep2) * std::pow(A, 6) / 720));
    return {zone, 500000 + x, latDeg < 0 ? y + 10000000 : y};
}

// The MGRS reference (1 m, truncated as MGRS requires) of a point outside the polar regions and
// away from the Norway/Svalbard zone exceptions.
std::string forwardMgrs(double latDeg, double lonDeg) {
    const Utm u = snyderForward(latDeg, lonDeg);
    const char* bands = "CDEFGHJKLMNPQRSTUVWX";
    const int band = std::min(19, static_cast<int>(std::floor((latDeg + 80) / 8)));
    const char* columns = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    const char* rows = "ABCDEFGHJKLMNPQRSTUV";
    const auto e = static_cast<long>(std::floor(u.easting));
    const auto n = static_cast<long>(std::floor(u.northing));
    const int column = static_cast<int>(((u.zone - 1) % 3) * 8 + e / 100000 - 1);
    const int row = static_cast<int>((n / 100000 + (u.zone % 2 == 0 ? 5 : 0)) % 20);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%d%c%c%c%05ld%05ld", u.zone, bands[band], columns[column], rows[row],
                  e % 100000, n % 100000);
    return buf;
}

LatLon convert(const std::string& mgrs) {
    auto r = mgrsToLatLon(mgrs);
    INFO(mgrs << ": " << (r.ok() ? std::string("ok") : r.error().message));
    REQUIRE(r.ok());
    return *r;
}

struct Reference {
    const char* mgrs;
    double lat, lon;
};

}  // namespace

TEST_CASE("MGRS references convert to the expected WGS84 positions", "[core][location]") {
    // Expected values: the centre of each square, computed with GeographicLib's GeoConvert
    // (an independent implementation), e.g. `echo 33NTJ1234567890 | GeoConvert -g -p 9`.
    const Reference refs[] = {
        {"31UDQ4825111932", 48.85819837720810, 2.29449599814152},  // Eiffel Tower
        {"33NTJ1234567890", 7.84349873139049, 12.39154502981236},
        {"33NYH9999999999", 7.22936089511085, 17.71648722896459},
        {"34NFJ0000000000", 2.71384193118430, 21.89964447602453},
        {"34NBK2863382493", 4.36120022511108, 18.55500204314614},  // Bangui
        {"35MQU1234567890", -1.19456716393511, 28.90835244320542},
        {"35MQU5000050000", -1.35604010985289, 29.24673730689587},
        {"35MQV2259599988", -0.00010398029932, 29.00000054179023},  // just south of the equator
        {"35NQA2259500011", 0.00010398029932, 29.00000054179023},   // just north of it
        {"36NUF2345667890", 0.61398941006635, 31.41356171267533},
        {"37MBS5512345678", -3.20324285340379, 36.79647973348531},
        {"36LTS6853115100", -8.00010028378668, 30.89999904347576},
        {"36JVS5727527657", -25.96919889691326, 32.57320026241774},  // Maputo
        {"34HBH6188143182", -33.92489866693330, 18.42409897461854},  // Cape Town
        {"36PVC5279713755", 15.50070169927520, 32.55990040781233},   // Khartoum
        {"30PUT4567823456", 11.06431970015841, -4.41280707240491},
        {"28PCA8000010000", 13.65639794457958, -16.10951059725484},
        {"38RLN1234512345", 24.51356037300586, 43.14781171330846},
        {"36RXA8892742172", 31.99990092391149, 34.99999638717760},
        {"36SYC3135053198", 33.89379932380535, 35.50179524005515},  // Beirut
        {"35WMV3066078928", 71.89999683738485, 25.00000598440123},
        {"33XWN0000072275", 83.49999667648943, 15.00003956159276},
        {"32CNS2034374046", -79.49999912408708, 10.00001326959329},
    };
    for (const auto& ref : refs) {
        const LatLon got = convert(ref.mgrs);
        INFO(ref.mgrs << " -> " << got.lat << ", " << got.lon);
        CHECK(got.lat == Approx(ref.lat).margin(1e-7));
        CHECK(got.lon == Approx(ref.lon).margin(1e-7));
    }
}

TEST_CASE("the Eiffel Tower's MGRS is near its published coordinates", "[core][location]") {
    const LatLon eiffel = convert("31UDQ4825111932");
    CHECK(eiffel.lat == Approx(48.8583).margin(0.001));
    CHECK(eiffel.lon == Approx(2.2945).margin(0.001));
}

TEST_CASE("MGRS precision: the centre of the designated square", "[core][location]") {
    // GeoConvert's values for the centres of 10 m, 100 m and 100 km squares.
    const LatLon tenMetres = convert("33NTJ12346789");
    CHECK(tenMetres.lat == Approx(7.84353936614839).margin(1e-7));
    CHECK(tenMetres.lon == Approx(12.39154024549467).margin(1e-7));
    const LatLon hundredMetres = convert("34NBK286824");
    CHECK(hundredMetres.lat == Approx(4.36080753465515).margin(1e-7));
    CHECK(hundredMetres.lon == Approx(18.55515188763511).margin(1e-7));
    const LatLon square = convert("33NTJ");
    CHECK(square.lat == Approx(7.68377227714542).margin(1e-7));
    CHECK(square.lon == Approx(12.73366715336615).margin(1e-7));
    // Each precision lands within half a square's diagonal of the 1 m position.
    const LatLon full = convert("33NTJ1234567890");
    CHECK(metresBetween(convert("33NTJ12346789"), full) < 10);
    CHECK(metresBetween(convert("33NTJ123678"), full) < 100);
    CHECK(metresBetween(convert("33NTJ1267"), full) < 1000);
    CHECK(metresBetween(convert("33NTJ16"), full) < 10000);
}

TEST_CASE("MGRS spelling: spaces and lowercase are accepted", "[core][location]") {
    const LatLon canonical = convert("34NBK2863382493");
    for (const char* spelt :
         {"34N BK 28633 82493", "34nbk2863382493", " 34 N bk 28633  82493 ", "34N\tBK\t2863382493"}) {
        const LatLon got = convert(spelt);
        CHECK(got.lat == canonical.lat);
        CHECK(got.lon == canonical.lon);
    }
    CHECK(convert("4QFJ1234567890").lat == Approx(21.4098).margin(0.001));  // one-digit zone (Honolulu)
}

TEST_CASE("MGRS round trips across Africa and the Middle East within 1 m", "[core][location]") {
    // Forward (Snyder) to a 1 m reference, back (under test) to the centre of that 1 m square:
    // within half the square's diagonal of the start, and forward again onto the square's centre.
    int points = 0;
    double worstDistance = 0, worstGrid = 0;
    std::string worstRef;
    for (double lat = -35.0; lat <= 42.0; lat += 0.37) {
        for (double lon = -18.0; lon <= 60.0; lon += 0.53) {
            const std::string ref = forwardMgrs(lat, lon);
            const LatLon got = convert(ref);
            const Utm start = snyderForward(lat, lon);
            const Utm back = snyderForward(got.lat, got.lon, start.zone);
            const double grid = std::max(std::abs(back.easting - (std::floor(start.easting) + 0.5)),
                                         std::abs(back.northing - (std::floor(start.northing) + 0.5)));
            if (grid > worstGrid) {
                worstGrid = grid;
                worstRef = ref;
            }
            worstDistance = std::max(worstDistance, metresBetween(got, {lat, lon}));
            ++points;
        }
    }
    INFO("worst " << worstDistance << " m from the start, " << worstGrid << " m off the square's centre at "
                  << worstRef << " over " << points << " points");
    CHECK(points > 30000);
    CHECK(worstDistance < 1.0);
    CHECK(worstGrid < 0.01);
}

TEST_CASE("MGRS round trips at zone edges and band edges", "[core][location]") {
    const double lats[] = {-32.0, -24.0, -16.0, -8.0, -0.00001, 0.00001, 8.0, 16.0, 24.0, 32.0, 40.0};
    for (double lat : lats) {
        for (int zone = 28; zone <= 40; ++zone) {
            const double west = zone * 6 - 180.0 - 6.0;
            for (double lon : {west + 0.00001, west + 3.0, west + 5.99999}) {
                for (double dLat : {-0.001, 0.001}) {
                    const std::string ref = forwardMgrs(lat + dLat, lon);
                    const LatLon got = convert(ref);
                    INFO(ref);
                    CHECK(metresBetween(got, {lat + dLat, lon}) < 1.0);
                }
            }
        }
    }
}

TEST_CASE("MGRS errors name the problem", "[core][location]") {
    const auto error = [](const char* mgrs) {
        auto r = mgrsToLatLon(mgrs);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().domain == outpost::ErrorDomain::Input);
        CHECK(r.error().code == outpost::ErrorCode::BadInput);
        return r.error().message;
    };
    using Catch::Matchers::Contains;
    CHECK_THAT(error(""), Contains("empty"));
    CHECK_THAT(error("   "), Contains("empty"));
    CHECK_THAT(error("ZGC1234567890"), Contains("polar MGRS (UPS) is not supported"));
    CHECK_THAT(error("AKP1234567890"), Contains("polar MGRS (UPS) is not supported"));
    CHECK_THAT(error("33Z TJ 12345 67890"), Contains("polar MGRS (UPS) is not supported"));
    CHECK_THAT(error("NTJ1234567890"), Contains("zone number"));
    CHECK_THAT(error("0NTJ1234567890"), Contains("bad UTM zone number 0"));
    CHECK_THAT(error("61NTJ1234567890"), Contains("bad UTM zone number 61"));
    CHECK_THAT(error("333NTJ1234567890"), Contains("bad UTM zone number"));
    CHECK_THAT(error("33"), Contains("missing latitude band"));
    CHECK_THAT(error("33ITJ1234567890"), Contains("bad latitude band letter 'I'"));
    CHECK_THAT(error("33OTJ1234567890"), Contains("bad latitude band letter 'O'"));
    CHECK_THAT(error("33-TJ1234567890"), Contains("bad latitude band letter '-'"));
    CHECK_THAT(error("32XNS1234567890"), Contains("32X does not exist"));
    CHECK_THAT(error("33N"), Contains("missing 100 km square letters"));
    CHECK_THAT(error("33NT"), Contains("missing 100 km square letters"));
    CHECK_THAT(error("33NAJ1234567890"), Contains("bad 100 km square letters 'AJ'"));
    CHECK_THAT(error("33NAJ1234567890"), Contains("columns S-Z"));
    CHECK_THAT(error("34NTJ1234567890"), Contains("columns A-H"));
    CHECK_THAT(error("35MTU1234567890"), Contains("columns J-R"));
    CHECK_THAT(error("33NTW1234567890"), Contains("row letter 'W'"));
    CHECK_THAT(error("33NTI1234567890"), Contains("row letter 'I'"));
    CHECK_THAT(error("33NTJ123456789"), Contains("odd number of digits (9)"));
    CHECK_THAT(error("33NTJ1"), Contains("odd number of digits (1)"));
    CHECK_THAT(error("33NTJ123456789012"), Contains("too many digits (12)"));
    CHECK_THAT(error("33NTJ12345x67890"), Contains("unexpected character 'x'"));
    CHECK_THAT(error("33NTJ12345,67890"), Contains("unexpected character ','"));
    // Row L of zone 33 lies about 1,000 km north of the equator: not in band N (0-8 degrees N).
    CHECK_THAT(error("33NTL1234567890"), Contains("does not lie in latitude band N"));
    CHECK_THAT(error("35MQA2259500011"), Contains("does not lie in latitude band M"));
}

TEST_CASE("checkLatLon accepts the globe and refuses the rest", "[core][location]") {
    CHECK(checkLatLon(4.3612, 18.5550).ok());
    CHECK(checkLatLon(90, 180).ok());
    CHECK(checkLatLon(-90, -180).ok());
    const auto good = checkLatLon(-1.5, 29.25);
    REQUIRE(good.ok());
    CHECK(good->lat == -1.5);
    CHECK(good->lon == 29.25);
    using Catch::Matchers::Contains;
    CHECK(checkLatLon(90.0001, 0).error().message == "latitude 90.0001 is out of range: must be -90 to 90");
    CHECK_THAT(checkLatLon(-91, 0).error().message, Contains("latitude"));
    CHECK_THAT(checkLatLon(0, 180.5).error().message, Contains("longitude"));
    CHECK(checkLatLon(0, -181).error().message == "longitude -181 is out of range: must be -180 to 180");
    CHECK_FALSE(checkLatLon(std::nan(""), 0).ok());
    CHECK_FALSE(checkLatLon(0, std::numeric_limits<double>::infinity()).ok());
    CHECK(checkLatLon(100, 0).error().code == outpost::ErrorCode::BadInput);
}
