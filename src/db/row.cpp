#include <cassert>

#include "db/db.hpp"

namespace nimbus::db {

// A getter that does not match the column's type is a bug in the calling module's SQL, so the
// getters assert (and std::get throws in release builds) rather than return a Result.

bool Row::is_null(std::size_t column_idx) const {
    return std::holds_alternative<std::monostate>(columns_.at(column_idx));
}

std::int64_t Row::get_int(std::size_t column_idx) const {
    const Value& value = columns_.at(column_idx);
    assert(std::holds_alternative<std::int64_t>(value));
    return std::get<std::int64_t>(value);
}

double Row::get_double(std::size_t column_idx) const {
    const Value& value = columns_.at(column_idx);
    // SQLite stores 2.0 in a REAL column but returns 2 for an integer expression such as SUM().
    if (const auto* as_int = std::get_if<std::int64_t>(&value)) {
        return static_cast<double>(*as_int);
    }
    assert(std::holds_alternative<double>(value));
    return std::get<double>(value);
}

const std::string& Row::get_text(std::size_t column_idx) const {
    const Value& value = columns_.at(column_idx);
    assert(std::holds_alternative<std::string>(value));
    return std::get<std::string>(value);
}

const Bytes& Row::get_blob(std::size_t column_idx) const {
    const Value& value = columns_.at(column_idx);
    assert(std::holds_alternative<Bytes>(value));
    return std::get<Bytes>(value);
}

std::optional<std::int64_t> Row::get_optional_int(std::size_t column_idx) const {
    if (is_null(column_idx)) return std::nullopt;
    return get_int(column_idx);
}

std::optional<std::string> Row::get_optional_text(std::size_t column_idx) const {
    if (is_null(column_idx)) return std::nullopt;
    return get_text(column_idx);
}

}  // namespace nimbus::db
