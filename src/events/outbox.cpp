// Writing events into the outbox, and reading its backlog.

#include <algorithm>

#include <boost/json.hpp>

#include "core/ids.hpp"
#include "events/events.hpp"

namespace nimbus::events {
namespace {

constexpr std::string_view kSpecVersion = "1.0";
constexpr std::string_view kDataContentType = "application/json";
constexpr std::string_view kEventIdPrefix = "evt";
/// Longest accepted type, source and subject; they are indexed and logged, not documents.
constexpr std::size_t kMaxAttributeLength = 512;

bool is_type_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

Result<void> validate(const EventDraft& draft) {
    if (draft.type.empty() || draft.type.size() > kMaxAttributeLength ||
        !std::all_of(draft.type.begin(), draft.type.end(), is_type_char) ||
        draft.type.front() == '.' || draft.type.back() == '.') {
        return Error::invalid("event type must look like nimbus.<module>.<entity>.<verb>");
    }
    if (draft.source.size() < 2 || draft.source.size() > kMaxAttributeLength ||
        draft.source.front() != '/') {
        return Error::invalid("event source must look like /nimbus/<module>");
    }
    if (draft.subject.empty() || draft.subject.size() > kMaxAttributeLength) {
        return Error::invalid("event subject must be 1 to 512 characters");
    }
    return {};
}

}  // namespace

Result<std::string> emit(db::Transaction& tx, const Clock& clock, const EventDraft& draft) {
    if (auto valid = validate(draft); !valid) return valid.error();
    boost::system::error_code parse_error;
    boost::json::value data = boost::json::parse(draft.data_json, parse_error);
    if (parse_error) return Error::invalid("event data is not valid JSON");

    const std::int64_t now_ms = clock.now_ms();
    std::string id = new_id(kEventIdPrefix, now_ms);
    boost::json::object envelope;
    envelope["specversion"] = kSpecVersion;
    envelope["id"] = id;
    envelope["source"] = draft.source;
    envelope["type"] = draft.type;
    envelope["subject"] = draft.subject;
    envelope["time"] = format_rfc3339(now_ms);
    envelope["datacontenttype"] = kDataContentType;
    envelope["data"] = std::move(data);

    auto inserted = tx.execute(
        "INSERT INTO outbox_events (id, type, source, subject, time_ms, data, envelope, fanned_out)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        {id, draft.type, draft.source, draft.subject, now_ms,
         boost::json::serialize(envelope.at("data")), boost::json::serialize(envelope)});
    if (!inserted) return inserted.error();
    return id;
}

Result<OutboxStats> outbox_stats(db::Database& db, const Clock& clock) {
    auto deliveries = db.query(
        "SELECT COUNT(*), MIN(e.time_ms) FROM outbox_deliveries d"
        " JOIN outbox_events e ON e.seq = d.event_seq WHERE d.status = 'pending'");
    if (!deliveries) return deliveries.error();
    auto undispatched =
        db.query("SELECT COUNT(*), MIN(time_ms) FROM outbox_events WHERE fanned_out = 0");
    if (!undispatched) return undispatched.error();

    OutboxStats stats;
    stats.pending_deliveries = deliveries->at(0).get_int(0);
    stats.undispatched_events = undispatched->at(0).get_int(0);
    std::optional<std::int64_t> oldest;
    for (const auto* rows : {&*deliveries, &*undispatched}) {
        if (auto time_ms = rows->at(0).get_optional_int(1)) {
            oldest = oldest ? std::min(*oldest, *time_ms) : *time_ms;
        }
    }
    if (oldest) stats.oldest_pending_age_ms = std::max<std::int64_t>(0, clock.now_ms() - *oldest);
    return stats;
}

}  // namespace nimbus::events
