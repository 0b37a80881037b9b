#pragma once
// What identity's route files share (routes.cpp, org_routes.cpp, mfa_routes.cpp): reading a JSON
// object body, the 400 answers about it, no-store answers and the caller's client details.
// Private to identity/.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/json.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity {

/// 400 validation-failed naming each bad field by its JSON Pointer.
inline http::Response validation_problem(std::vector<http::Problem::FieldError> errors) {
    return http::Response::make_problem(400, "validation-failed", "Bad Request",
                                        "The request has invalid fields.", std::move(errors));
}

/// An answer no cache may keep.
inline http::Response no_store(http::Response response) {
    response.set_header("cache-control", "no-store");
    return response;
}

/// The caller's address and user agent, for sessions and events.
inline ClientInfo client_of(const http::Request& request, const http::RequestContext& context) {
    return {context.client_address, std::string(request.header("user-agent").value_or(""))};
}

/// A JSON object request body. Each route file derives its reader from it with the field
/// accessors it needs; they collect one error per missing or mistyped field into errors(), so one
/// answer names them all.
///
///     Body body(request);
///     if (body.parse_error()) co_return body.invalid_json();
///     auto name = body.text("name");
///     if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
class JsonBody {
public:
    /// Parses the body; parse_error() says why when it is not a JSON object. With `allow_empty`,
    /// an empty body reads as `{}`.
    explicit JsonBody(const http::Request& request, bool allow_empty = false) {
        if (allow_empty && request.body.empty()) return;
        auto value = json::parse(request.body);
        if (!value) {
            parse_error_ = value.error().message;
        } else if (!value->is_object()) {
            parse_error_ = "the body must be a JSON object";
        } else {
            object_ = std::move(value->as_object());
        }
    }

    const std::optional<std::string>& parse_error() const { return parse_error_; }
    bool has(std::string_view name) const { return object_.contains(name); }
    std::vector<http::Problem::FieldError>& errors() { return errors_; }

    /// The 400 answer when parse_error() is set.
    http::Response invalid_json() const {
        return http::Response::make_problem(400, "invalid-json", "Bad Request", *parse_error_);
    }

protected:
    boost::json::object object_;
    std::vector<http::Problem::FieldError> errors_;

private:
    std::optional<std::string> parse_error_;
};

}  // namespace nimbus::identity
