#include "backfill/throttle/signal.h"

#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace backfill {
namespace {

// Two decimals below 10, one below 100, none above; trailing zeros dropped.
std::string FormatNumber(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  const double magnitude = std::fabs(x);
  const int decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2;
  std::string s = absl::StrFormat("%.*f", decimals, x);
  if (decimals > 0) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

}  // namespace

Reading Reading::Ok(double value, double threshold, std::string unit,
                    double critical) {
  Reading r;
  r.ok = true;
  r.value = value;
  r.threshold = threshold;
  r.critical = critical;
  r.unit = std::move(unit);
  return r;
}

Reading Reading::Unreadable(std::string error) {
  Reading r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

double Reading::Utilisation() const {
  if (!ok || std::isnan(value) || !ValidThreshold()) {
    return std::numeric_limits<double>::infinity();
  }
  return (Effective() - floor) / (threshold - floor);
}

bool Reading::ValidThreshold() const {
  return threshold > 0 && floor >= 0 && floor < threshold;
}

double Reading::Effective() const {
  return forecast.has_value() && *forecast > value ? *forecast : value;
}

bool Reading::Critical() const {
  return ok && critical > 0 && value >= critical;
}

std::string Reading::Describe(absl::string_view name) const {
  if (!ok) return absl::StrCat(name, " unreadable: ", error);
  if (std::isnan(value)) {
    return absl::StrCat(name, " unreadable: value is not a number");
  }
  if (!ValidThreshold()) {
    return absl::StrCat(name, " unreadable: invalid threshold ",
                        FormatQuantity(threshold, unit));
  }
  const double effective = Effective();
  const char* op = effective > threshold    ? " > "
                   : effective == threshold ? " >= "
                                            : " < ";
  std::string rising;
  if (effective > value) {
    rising = absl::StrCat(" rising to ", FormatQuantity(effective, unit));
  }
  std::string quiet;
  if (floor > 0) quiet = absl::StrCat(", quiet ", FormatQuantity(floor, unit));
  return absl::StrCat(name, " ", FormatQuantity(value, unit), rising, op,
                      FormatQuantity(threshold, unit), quiet);
}

std::string FormatQuantity(double value, absl::string_view unit) {
  if (unit == "s") {
    // Below a second (after rounding) read better as milliseconds.
    if (std::isfinite(value) && std::fabs(value) * 1000 < 999.5) {
      return absl::StrCat(FormatNumber(value * 1000), "ms");
    }
    return absl::StrCat(FormatNumber(value), "s");
  }
  return absl::StrCat(FormatNumber(value), unit);
}

}  // namespace backfill
