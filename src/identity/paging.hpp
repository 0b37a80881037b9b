#pragma once
// Cursor pagination of identity's lists (members, invitations, roles, API keys, OAuth clients,
// sessions), private to identity/. The routes read `?limit=` and `?cursor=` with read_page() and
// answer with page_answer(); the stores fetch one row more than the limit in a stable order and
// cut it with finish_page(), naming the last row kept as the next position. Cursors are made and
// checked by core/cursor.hpp, as the audit log's are.

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/cursor.hpp"
#include "core/result.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity {

/// The query parameters of every paged list, for the validate step and the OpenAPI document.
inline constexpr std::string_view kPageQuerySchema = R"({
  "type": "object",
  "properties": {
    "cursor": {"type": "string", "maxLength": 512,
               "description": "next_cursor of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 100,
              "description": "Rows per page"}
  }
})";

/// The error for a cursor that decodes but names no position of this list.
inline Error bad_cursor() { return Error::invalid("cursor: is not a cursor this server issued"); }

/// Keeps the first `limit` of `rows` (fetched with LIMIT limit + 1); when there were more, the
/// position of the last row kept becomes next_after.
template <typename T, typename PositionOf>
Page<T> finish_page(std::vector<T> rows, std::size_t limit, PositionOf position_of) {
    Page<T> page;
    if (rows.size() > limit) {
        rows.resize(limit);
        page.next_after = position_of(rows.back());
    }
    page.items = std::move(rows);
    return page;
}

/// A position made of a number and an id ("<created_at_ms>:<id>"), for lists ordered by time.
inline std::string time_position(std::int64_t time_ms, std::string_view id) {
    return std::to_string(time_ms) + ":" + std::string(id);
}

/// The parts of a time_position(); nullopt when `position` is not one.
inline std::optional<std::pair<std::int64_t, std::string>> parse_time_position(
    std::string_view position) {
    auto colon = position.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == position.size()) {
        return std::nullopt;
    }
    std::int64_t time_ms = 0;
    auto [end, ec] = std::from_chars(position.data(), position.data() + colon, time_ms);
    if (ec != std::errc() || end != position.data() + colon || time_ms < 0) return std::nullopt;
    return std::make_pair(time_ms, std::string(position.substr(colon + 1)));
}

/// Reads `?limit=` (1-200, default 100) and `?cursor=` (a cursor of list `kind`); a 400
/// problem naming the parameter when either is bad.
inline Result<PageRequest> read_page(const http::Request& request, std::string_view kind) {
    PageRequest page;
    if (auto limit = request.query_param("limit")) {
        // The validate step checked the range already; this covers callers without it.
        std::size_t value = 0;
        auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
        if (ec != std::errc() || end != limit->data() + limit->size() || value < 1 ||
            value > PageRequest::kMaxLimit) {
            return Error::invalid("limit: must be an integer between 1 and 200");
        }
        page.limit = value;
    }
    if (auto text = request.query_param("cursor")) {
        auto position = cursor::decode(kind, *text);
        if (!position) return position.error();
        page.after = std::move(*position);
    }
    return page;
}

/// The 400 answer for a bad `limit` or `cursor` ("limit: ..." / "cursor: ..." errors).
inline http::Response page_problem(const Error& error) {
    std::string message = error.message;
    std::string parameter = message.starts_with("limit: ") ? "limit" : "cursor";
    if (message.starts_with(parameter + ": ")) message = message.substr(parameter.size() + 2);
    http::Response response = http::Response::make_problem(
        400, "validation-failed", "Bad Request", "The request has invalid query parameters.",
        {{"", std::move(message), std::move(parameter)}});
    response.set_header("cache-control", "no-store");
    return response;
}

/// True for the errors read_page() and the stores give for a bad page request.
inline bool is_page_error(const Error& error) {
    return error.code == ErrorCode::invalid_argument &&
           (error.message.starts_with("cursor: ") || error.message.starts_with("limit: "));
}

/// `{"data": [...], "next_cursor": "..." | null}`, not cached.
inline http::Response page_answer(boost::json::array data,
                                  const std::optional<std::string>& next_after,
                                  std::string_view kind) {
    boost::json::value next = nullptr;
    if (next_after) next = boost::json::string(cursor::encode(kind, *next_after));
    http::Response response = http::Response::json(
        200, boost::json::object{{"data", std::move(data)}, {"next_cursor", std::move(next)}});
    response.set_header("cache-control", "no-store");
    return response;
}

}  // namespace nimbus::identity
