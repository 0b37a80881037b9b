// GET /api/v1/admin/firewall: the firewall's settings as this node runs them, for the console's
// Firewall page. Recent blocks are not repeated here: they are audit entries
// (`nimbus.gateway.firewall.blocked`, GET /api/v1/admin/audit), which the page reads itself.
#include <boost/json/object.hpp>

#include "gateway/gateway.hpp"

namespace nimbus::gateway {
namespace {

constexpr std::string_view kStatusPath = "/api/v1/admin/firewall";
constexpr std::string_view kPermission = "gateway.firewall.manage";

// Descriptions hold parentheses, so the raw string has a delimiter of its own.
constexpr std::string_view kStatusSchema = R"json({
  "type": "object", "required": ["enabled", "mode"], "additionalProperties": false,
  "properties": {
    "enabled": {"type": "boolean", "description": "Whether requests are inspected at all"},
    "mode": {"type": "string", "enum": ["blocking", "detection", "off"],
             "description": "blocking refuses attacks; detection only logs them; off: disabled"},
    "paranoia_level": {"type": "integer", "minimum": 1, "maximum": 4,
                       "description": "OWASP CRS paranoia level; absent when off"},
    "inbound_anomaly_threshold": {"type": "integer", "minimum": 1,
                                  "description": "Anomaly score that blocks; absent when off"},
    "rule_exclusions": {"type": "integer", "minimum": 0,
                        "description": "Routes with rules switched off; absent when off"},
    "prefilter_active": {"type": "boolean",
                         "description": "Whether plain requests skip the engine; absent when off"}}})json";

boost::json::object to_json(const FirewallStatus& status) {
    if (!status.enabled) return {{"enabled", false}, {"mode", "off"}};
    boost::json::object body{{"enabled", true},
                             {"mode", status.blocking ? "blocking" : "detection"},
                             {"paranoia_level", status.paranoia_level},
                             {"inbound_anomaly_threshold", status.inbound_anomaly_threshold},
                             {"rule_exclusions", status.rule_exclusions}};
    // Asked on each call: the prefilter is built after the start and may still be coming.
    body["prefilter_active"] = status.firewall != nullptr && status.firewall->prefilter_active();
    return body;
}

}  // namespace

void add_firewall_status_route(http::Router& router, FirewallStatus status) {
    router.add(
        http::Method::get, kStatusPath,
        http::SyncHandler([status = std::move(status)](http::Request&, http::RequestContext&) {
            http::Response response = http::Response::json(200, to_json(status));
            response.set_header("cache-control", "no-store");
            return response;
        }),
        http::RouteOptions{.permission = std::string(kPermission),
                           .summary = "The web application firewall's settings",
                           .tag = "gateway",
                           .response_schema = std::string(kStatusSchema)});
}

}  // namespace nimbus::gateway
