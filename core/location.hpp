// Locations in reports: MGRS grid references converted to WGS84 latitude/longitude, range checks.
#pragma once

#include <string_view>

#include "core/error.hpp"

namespace outpost::core {

// A WGS84 position in decimal degrees: latitude north positive, longitude east positive.
struct LatLon {
    double lat = 0;
    double lon = 0;
};

// Converts an MGRS reference (WGS84, the "AA" lettering used by current maps and GPS receivers)
// to latitude/longitude.
//
// Accepted: zone number 1-60, latitude band C-X (without I and O), the two 100 km square letters,
// then 0 to 10 digits split evenly between easting and northing, so the precision is
// 10^(5 - digits/2) m ("34NBK" is 100 km, "34NBK286824" 100 m, "34NBK2863382493" 1 m). Letters may
// be lowercase; spaces and tabs anywhere are ignored ("34N BK 28633 82493").
//
// Returns the CENTRE of the square the reference designates (for "34NBK286824", the point 50 m
// east and 50 m north of the 100 m square's south-west corner), the best estimate of a point known
// only to that precision. The UTM inverse uses Krüger's series to 4th order in n (error well
// under a millimetre inside a zone); the 2,000 km northing cycle of the row letters is resolved
// with the latitude band, and a square that does not lie in its band is refused (so "33NTL...",
// about 1,000 km north of the equator, is an error: band N ends at 8 degrees N, near 885 km).
//
// Errors (ErrorDomain::Input, ErrorCode::BadInput) name the problem: a bad zone number, a bad
// band letter, polar references ("polar MGRS (UPS) is not supported": bands A, B, Y, Z), zones
// that do not exist around Svalbard (32X, 34X, 36X), square letters not used in that zone, an odd
// digit count, more than 10 digits, any other character. Pure and thread-safe.
Result<LatLon> mgrsToLatLon(std::string_view mgrs);

// `LatLon{lat, lon}` when lat is in [-90, 90] and lon in [-180, 180] (both finite), else an error
// (Input, BadInput) naming the value out of range. Pure.
Result<LatLon> checkLatLon(double lat, double lon);

}  // namespace outpost::core
