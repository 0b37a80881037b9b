#pragma once
/// Expected failures as values.
///
/// `Result<T>` holds either a `T` or an `Error`. Functions return it for every failure a caller can
/// meet in normal operation (bad input, a missing row, a lost database); exceptions are kept for
/// bugs and are turned into a 500 by the HTTP recover step.
///
///     Result<User> find(std::string_view id);
///     auto user = find(id);
///     if (!user) return user.error();   // propagate
///     use(*user);

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace nimbus {

/// What went wrong, in terms a caller can act on. Maps onto HTTP status codes in `http/`.
enum class ErrorCode {
    invalid_argument,     ///< the input is malformed or out of range (400)
    unauthenticated,      ///< no valid credentials (401)
    permission_denied,    ///< credentials lack the permission (403)
    not_found,            ///< the thing does not exist or is not visible to the caller (404)
    conflict,             ///< the change collides with the current state (409)
    precondition_failed,  ///< an If-Match or similar precondition did not hold (412)
    too_large,            ///< the input exceeds a size limit (413)
    rate_limited,         ///< too many requests (429)
    unavailable,          ///< a dependency (database, cache) cannot be reached now (503)
    internal,             ///< a bug or an unexpected state (500)
};

/// A failure: a code plus a message safe to show to the caller (never secrets or internals).
struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;

    static Error invalid(std::string message) {
        return {ErrorCode::invalid_argument, std::move(message)};
    }
    static Error not_found(std::string message) {
        return {ErrorCode::not_found, std::move(message)};
    }
    static Error conflict(std::string message) { return {ErrorCode::conflict, std::move(message)}; }
    static Error unavailable(std::string message) {
        return {ErrorCode::unavailable, std::move(message)};
    }
    static Error internal(std::string message) { return {ErrorCode::internal, std::move(message)}; }
};

/// The stable name of a code, as used in logs and problem types ("invalid_argument").
const char* to_string(ErrorCode code);

/// Either a value or an Error. Converts implicitly from both, so `return value;` and
/// `return Error::invalid("...");` read naturally.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value)
        : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(state_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(state_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(state_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(state_);
    }

    /// The value, or `fallback` when this holds an error.
    T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

private:
    std::variant<T, Error> state_;
};

/// A Result with no value: success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return error_;
    }

private:
    Error error_;
    bool ok_ = true;
};

}  // namespace nimbus
