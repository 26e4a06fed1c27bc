// MGRS parsing (zone, band, 100 km square lettering) and the UTM inverse on the WGS84 ellipsoid.
#include "core/location.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>

namespace outpost::core {
namespace {

// WGS84 and UTM constants.
constexpr double kA = 6378137.0;
constexpr double kF = 1.0 / 298.257223563;
constexpr double kK0 = 0.9996;
constexpr double kFalseEasting = 500000.0;
constexpr double kRowCycle = 2000000.0;  // 20 row letters of 100 km
constexpr double kDeg = std::numbers::pi / 180.0;

// The 24 MGRS letters: the Latin alphabet without I and O.
constexpr std::string_view kColumnLetters = "ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr std::string_view kRowLetters = "ABCDEFGHJKLMNPQRSTUV";
constexpr std::string_view kBandLetters = "CDEFGHJKLMNPQRSTUVWX";

// Series coefficients of the transverse Mercator projection in the third flattening n
// (Krüger 1912, as extended to 4th order by Karney 2011).
struct Krueger {
    double n, e, rectifyingRadius;
    double alpha[4];  // conformal latitude -> projected (forward)
    double beta[4];   // projected -> conformal latitude (inverse)
};

Krueger makeKrueger() {
    const double n = kF / (2 - kF);
    const double n2 = n * n, n3 = n2 * n, n4 = n3 * n;
    Krueger k{};
    k.n = n;
    k.e = std::sqrt(kF * (2 - kF));
    k.rectifyingRadius = kA / (1 + n) * (1 + n2 / 4 + n4 / 64);
    k.alpha[0] = n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180;
    k.alpha[1] = 13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440;
    k.alpha[2] = 61 * n3 / 240 - 103 * n4 / 140;
    k.alpha[3] = 49561 * n4 / 161280;
    k.beta[0] = n / 2 - 2 * n2 / 3 + 37 * n3 / 96 - n4 / 360;
    k.beta[1] = n2 / 48 + n3 / 15 - 437 * n4 / 1440;
    k.beta[2] = 17 * n3 / 480 - 37 * n4 / 840;
    k.beta[3] = 4397 * n4 / 161280;
    return k;
}

const Krueger& krueger() {
    static const Krueger k = makeKrueger();
    return k;
}

// UTM northing (from the equator, negative in the south: no false northing) of latitude `latDeg` at
// `dLonDeg` from the central meridian: Krüger's forward series.
double northingAt(double latDeg, double dLonDeg) {
    const Krueger& k = krueger();
    const double phi = latDeg * kDeg, dLon = dLonDeg * kDeg;
    // Tangent of the conformal latitude, via the isometric latitude.
    const double tauP = std::sinh(std::asinh(std::tan(phi)) - k.e * std::atanh(k.e * std::sin(phi)));
    const double xiP = std::atan2(tauP, std::cos(dLon));
    const double etaP = std::asinh(std::sin(dLon) / std::hypot(tauP, std::cos(dLon)));
    double xi = xiP;
    for (int j = 1; j <= 4; ++j) xi += k.alpha[j - 1] * std::sin(2 * j * xiP) * std::cosh(2 * j * etaP);
    return kK0 * k.rectifyingRadius * xi;
}

// UTM easting/northing (northing relative to the equator, negative in the south) to lat/lon.
LatLon utmInverse(int zone, double easting, double northing) {
    const Krueger& k = krueger();
    const double xi = northing / (kK0 * k.rectifyingRadius);
    const double eta = (easting - kFalseEasting) / (kK0 * k.rectifyingRadius);
    double xiP = xi, etaP = eta;
    for (int j = 1; j <= 4; ++j) {
        xiP -= k.beta[j - 1] * std::sin(2 * j * xi) * std::cosh(2 * j * eta);
        etaP -= k.beta[j - 1] * std::cos(2 * j * xi) * std::sinh(2 * j * eta);
    }
    // Conformal latitude as its tangent, then the geodetic latitude whose isometric latitude
    // matches; the fixed point contracts by about e^2 per step.
    const double tauP = std::sin(xiP) / std::hypot(std::sinh(etaP), std::cos(xiP));
    const double psi = std::asinh(tauP);
    double phi = std::atan(tauP);
    for (int i = 0; i < 20; ++i) {
        const double next = std::atan(std::sinh(psi + k.e * std::atanh(k.e * std::sin(phi))));
        const bool done = std::abs(next - phi) < 1e-15;
        phi = next;
        if (done) break;
    }
    const double lon0 = (zone * 6 - 183) * kDeg;
    double lon = (lon0 + std::atan2(std::sinh(etaP), std::cos(xiP))) / kDeg;
    if (lon > 180) lon -= 360;
    if (lon < -180) lon += 360;
    return {phi / kDeg, lon};
}

Error bad(std::string message) {
    return Error{ErrorDomain::Input, ErrorCode::BadInput, std::move(message)};
}

bool isAsciiDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAsciiUpper(char c) {
    return c >= 'A' && c <= 'Z';
}

}  // namespace

Result<LatLon> mgrsToLatLon(std::string_view mgrs) {
    // `s` is compared (uppercase), `spelt` quoted in messages (as typed); both without spaces.
    std::string s, spelt;
    for (char c : mgrs) {
        if (c == ' ' || c == '\t') continue;
        spelt.push_back(c);
        s.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    }
    if (s.empty()) return bad("empty MGRS reference");

    std::size_t pos = 0;
    while (pos < s.size() && isAsciiDigit(s[pos])) ++pos;
    if (pos == 0) {
        if (s[0] == 'A' || s[0] == 'B' || s[0] == 'Y' || s[0] == 'Z')
            return bad("polar MGRS (UPS) is not supported");
        return bad("MGRS reference must start with a UTM zone number (1-60)");
    }
    if (pos > 2) return bad("bad UTM zone number '" + s.substr(0, pos) + "': must be 1-60");
    const int zone = std::stoi(s.substr(0, pos));
    if (zone < 1 || zone > 60) return bad("bad UTM zone number " + std::to_string(zone) + ": must be 1-60");

    if (pos >= s.size()) return bad("missing latitude band letter after zone " + std::to_string(zone));
    const char band = s[pos++];
    if (band == 'A' || band == 'B' || band == 'Y' || band == 'Z')
        return bad("polar MGRS (UPS) is not supported");
    const std::size_t bandIndex = kBandLetters.find(band);
    if (!isAsciiUpper(band) || bandIndex == std::string_view::npos)
        return bad(std::string("bad latitude band letter '") + spelt[pos - 1] +
                   "': must be C-X without I and O");
    if (band == 'X' && (zone == 32 || zone == 34 || zone == 36))
        return bad("zone " + std::to_string(zone) + "X does not exist (Svalbard uses 31X, 33X, 35X and 37X)");
    const std::string gridZone = std::to_string(zone) + band;

    if (pos + 2 > s.size()) return bad("missing 100 km square letters after " + gridZone);
    const char column = s[pos], row = s[pos + 1];
    pos += 2;
    const std::string square{column, row};
    // Column letters cycle through three sets of eight, one per zone modulo 3.
    const int set = (zone - 1) % 3;
    const std::size_t columnIndex = kColumnLetters.find(column);
    if (!isAsciiUpper(column) || columnIndex == std::string_view::npos ||
        static_cast<int>(columnIndex / 8) != set) {
        const std::string first(1, kColumnLetters[static_cast<std::size_t>(set) * 8]);
        const std::string last(1, kColumnLetters[static_cast<std::size_t>(set) * 8 + 7]);
        return bad("bad 100 km square letters '" + square + "': column letter '" + std::string(1, column) +
                   "' is not used in zone " + std::to_string(zone) + " (columns " + first + "-" + last +
                   " without I and O)");
    }
    const std::size_t rowIndex = kRowLetters.find(row);
    if (!isAsciiUpper(row) || rowIndex == std::string_view::npos)
        return bad("bad 100 km square letters '" + square + "': row letter '" + std::string(1, row) +
                   "' must be A-V without I and O");

    const std::string digits = s.substr(pos);
    for (std::size_t i = pos; i < s.size(); ++i) {
        if (!isAsciiDigit(s[i]))
            return bad(std::string("unexpected character '") + spelt[i] + "' in MGRS reference");
    }
    if (digits.size() % 2 != 0)
        return bad("odd number of digits (" + std::to_string(digits.size()) +
                   ") in MGRS reference: easting and northing need the same number");
    if (digits.size() > 10)
        return bad("too many digits (" + std::to_string(digits.size()) + ") in MGRS reference: at most 10");

    const std::size_t half = digits.size() / 2;
    const double cell = std::pow(10.0, 5 - static_cast<int>(half));
    const double eastInSquare = half == 0 ? 0 : std::stod(digits.substr(0, half)) * cell;
    const double northInSquare = half == 0 ? 0 : std::stod(digits.substr(half)) * cell;

    const double easting = static_cast<double>(columnIndex % 8 + 1) * 100000.0 + eastInSquare + cell / 2;
    // Row letters restart every 2,000 km; even zones start five letters later (the "AA" scheme).
    // Northings here are signed (no false northing): the 10,000 km false northing of the south is
    // a whole number of cycles, so the letters read the same either way.
    const int rowOffset = zone % 2 == 0 ? 5 : 0;
    const int rowInCycle = (static_cast<int>(rowIndex) - rowOffset + 20) % 20;

    // The northings the band covers across the zone: parallels bow away from the equator towards
    // the zone's edges (3 degrees from the central meridian; up to 6 in the widened zones of
    // bands V and X around Norway and Svalbard).
    const double bandSouth = -80.0 + 8.0 * static_cast<double>(bandIndex);
    const double bandNorth = band == 'X' ? 84.0 : bandSouth + 8.0;
    const double edge = band == 'V' || band == 'X' ? 6.0 : 3.0;
    const double bandMin = std::min(northingAt(bandSouth, 0), northingAt(bandSouth, edge));
    const double bandMax = std::max(northingAt(bandNorth, 0), northingAt(bandNorth, edge));
    // The band (at most about 1,330 km tall) lies within 1,000 km of its middle, so the cycle
    // nearest to the middle is the one the reference means.
    const double cycles = std::round(((bandMin + bandMax) / 2 - rowInCycle * 100000.0) / kRowCycle);
    const double squareNorthing = rowInCycle * 100000.0 + cycles * kRowCycle;
    if (squareNorthing >= bandMax || squareNorthing + 100000.0 <= bandMin)
        return bad("100 km square " + square + " does not lie in latitude band " + std::string(1, band) +
                   " of zone " + std::to_string(zone));

    const LatLon result = utmInverse(zone, easting, squareNorthing + northInSquare + cell / 2);
    return result;
}

Result<LatLon> checkLatLon(double lat, double lon) {
    const auto text = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", v);
        return std::string(buf);
    };
    if (!std::isfinite(lat) || lat < -90.0 || lat > 90.0)
        return bad("latitude " + text(lat) + " is out of range: must be -90 to 90");
    if (!std::isfinite(lon) || lon < -180.0 || lon > 180.0)
        return bad("longitude " + text(lon) + " is out of range: must be -180 to 180");
    return LatLon{lat, lon};
}

}  // namespace outpost::core
