// HTTP for the caller's second factor and email address: parse and validate -> call the Service
// (on the worker pool when it hashes a password or mails) -> map to JSON. The second step of a
// login lives with the other /auth routes in routes.cpp. docs/identity.md lists the routes.
#include <map>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/json.hpp"
#include "identity/identity.hpp"
#include "identity/route_schemas.hpp"
#include "identity/route_support.hpp"

namespace nimbus::identity {
namespace {

using boost::asio::awaitable;
using boost::json::object;
using http::Method;
using http::Request;
using http::RequestContext;
using http::Response;

/// Small bodies: a code, a password (1 KiB at most, JSON escapes included) and an email.
constexpr std::size_t kMaxBodyBytes = 16 * 1024;
constexpr std::string_view kFields[] = {"code", "password", "new_email"};

/// Maps a service error; field errors ("code: is wrong") point at their field.
Response problem(const Error& error) {
    if (error.code == ErrorCode::invalid_argument) {
        for (std::string_view field : kFields) {
            std::string prefix = std::string(field) + ": ";
            if (error.message.starts_with(prefix)) {
                return validation_problem(
                    {{"/" + std::string(field), error.message.substr(prefix.size())}});
            }
        }
    }
    return Response::from_error(error);
}

/// A JSON object whose named fields must be strings when present.
struct Fields {
    std::optional<Response> refusal;
    std::map<std::string, std::string, std::less<>> values;
};

Fields read_fields(const Request& request, std::initializer_list<std::string_view> names,
                   std::initializer_list<std::string_view> required) {
    Fields fields;
    auto parsed = json::parse(request.body.empty() ? std::string_view("{}") : request.body);
    if (!parsed || !parsed->is_object()) {
        fields.refusal = Response::make_problem(
            400, "invalid-json", "Bad Request",
            parsed ? "the body must be a JSON object" : parsed.error().message);
        return fields;
    }
    std::vector<http::Problem::FieldError> errors;
    const auto& body = parsed->as_object();
    for (std::string_view name : names) {
        const auto* value = body.if_contains(name);
        if (value == nullptr) continue;
        if (!value->is_string()) {
            errors.push_back({"/" + std::string(name), "must be a string"});
            continue;
        }
        fields.values.emplace(std::string(name), std::string(value->as_string()));
    }
    for (std::string_view name : required) {
        if (!body.contains(name)) errors.push_back({"/" + std::string(name), "is required"});
    }
    if (!errors.empty()) {
        fields.refusal = validation_problem(std::move(errors));
    }
    return fields;
}

std::string value_of(const Fields& fields, std::string_view name) {
    auto found = fields.values.find(name);
    return found == fields.values.end() ? std::string() : found->second;
}

const std::string& user_id_of(const RequestContext& context) {
    // The route's permission made the authorize step answer 401 when there is no principal.
    return context.principal->id;
}

http::RouteOptions self_route(std::string summary) {
    http::RouteOptions options;
    options.max_body_bytes = kMaxBodyBytes;
    options.summary = std::move(summary);
    options.tag = "identity";
    options.permission = std::string(kSelfPermission);
    return options;
}

Response recovery_codes(const std::vector<std::string>& codes) {
    boost::json::array list;
    for (const auto& code : codes) list.emplace_back(code);
    return no_store(Response::json(200, object{{"recovery_codes", std::move(list)}}));
}

}  // namespace

void add_mfa_routes(http::Router& router, Service& service) {
    router.add(
        Method::get, "/api/v1/me/mfa",
        http::Task([&service](Request&, RequestContext& context) -> awaitable<Response> {
            Result<MfaStatus> status = Error::internal("not run");
            co_await context.run_database(
                [&] { status = service.mfa_status(user_id_of(context)); });
            if (!status) co_return problem(status.error());
            object totp{{"enabled", status->totp_enabled}, {"pending", status->totp_pending}};
            totp["enabled_at"] =
                status->totp_enabled
                    ? boost::json::value(format_rfc3339(status->totp_enabled_at_ms))
                    : boost::json::value(nullptr);
            co_return no_store(Response::json(
                200, object{{"totp", std::move(totp)},
                            {"recovery_codes_remaining", status->recovery_codes_remaining}}));
        }),
        schemas::with(self_route("The caller's second factors"), {}, schemas::kMfaStatusAnswer));

    router.add(
        Method::post, "/api/v1/me/mfa/totp",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            ClientInfo client = client_of(request, context);
            Result<TotpEnrollment> enrollment = Error::internal("not run");
            co_await context.run_database(
                [&] { enrollment = service.start_totp(user_id_of(context), client); });
            if (!enrollment) co_return problem(enrollment.error());
            co_return no_store(Response::json(200, object{{"secret", enrollment->secret},
                                                          {"otpauth_uri", enrollment->otpauth_uri},
                                                          {"qr_svg", enrollment->qr_svg}}));
        }),
        schemas::with(self_route("Start TOTP enrolment: the secret, its otpauth URI and a QR code"),
                      {}, schemas::kTotpEnrollmentAnswer));

    router.add(
        Method::post, "/api/v1/me/mfa/totp/confirm",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Fields fields = read_fields(request, {"code"}, {"code"});
            if (fields.refusal) co_return std::move(*fields.refusal);
            ClientInfo client = client_of(request, context);
            Result<std::vector<std::string>> codes = Error::internal("not run");
            co_await context.run_database([&] {
                codes = service.confirm_totp(user_id_of(context), value_of(fields, "code"), client);
            });
            if (!codes) co_return problem(codes.error());
            co_return recovery_codes(*codes);
        }),
        schemas::with(
            self_route("Turn TOTP on with a code from the app; answers the recovery codes once"),
            schemas::kTotpConfirmBody, schemas::kRecoveryCodesAnswer));

    router.add(
        Method::delete_, "/api/v1/me/mfa/totp",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Fields fields = read_fields(request, {"code", "password"}, {});
            if (fields.refusal) co_return std::move(*fields.refusal);
            Reauthentication proof{value_of(fields, "code"), value_of(fields, "password")};
            ClientInfo client = client_of(request, context);
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking(
                [&] { done = service.disable_totp(user_id_of(context), proof, client); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(self_route("Turn TOTP off (with a code or the password)"), {204}));

    router.add(
        Method::post, "/api/v1/me/mfa/recovery-codes",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Fields fields = read_fields(request, {"code", "password"}, {});
            if (fields.refusal) co_return std::move(*fields.refusal);
            Reauthentication proof{value_of(fields, "code"), value_of(fields, "password")};
            ClientInfo client = client_of(request, context);
            Result<std::vector<std::string>> codes = Error::internal("not run");
            co_await context.run_blocking([&] {
                codes = service.regenerate_recovery_codes(user_id_of(context), proof, client);
            });
            if (!codes) co_return problem(codes.error());
            co_return recovery_codes(*codes);
        }),
        schemas::with(self_route("Replace the recovery codes (with a code or the password)"), {},
                      schemas::kRecoveryCodesAnswer));

    router.add(
        Method::post, "/api/v1/me/email",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Fields fields =
                read_fields(request, {"new_email", "password"}, {"new_email", "password"});
            if (fields.refusal) co_return std::move(*fields.refusal);
            ClientInfo client = client_of(request, context);
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking([&] {
                done =
                    service.request_email_change(user_id_of(context), value_of(fields, "new_email"),
                                                 value_of(fields, "password"), client);
            });
            if (!done) co_return problem(done.error());
            // The same answer whether or not the address is free.
            co_return Response::json(
                202, object{{"status", "verification_sent"},
                            {"message",
                             "If the address can receive mail, a link to confirm it is on its "
                             "way; the email changes when it is opened."}});
        }),
        schemas::answering(
            schemas::with(
                self_route("Change the email address: mails a confirmation link to the new one"),
                schemas::kEmailChangeBody, schemas::kAcceptedAnswer),
            {202}));
}

}  // namespace nimbus::identity
