#include "recorder.hpp"

namespace nimbus::events::testing {

Result<void> create_received_table(db::Database& db) {
    const char* sql = db.backend() == db::Backend::postgres
                          ? "CREATE TABLE IF NOT EXISTS received (recv_seq BIGINT GENERATED ALWAYS"
                            " AS IDENTITY PRIMARY KEY, subscriber TEXT NOT NULL, event_id TEXT"
                            " NOT NULL, subject TEXT NOT NULL)"
                          : "CREATE TABLE IF NOT EXISTS received (recv_seq INTEGER PRIMARY KEY"
                            " AUTOINCREMENT, subscriber TEXT NOT NULL, event_id TEXT NOT NULL,"
                            " subject TEXT NOT NULL)";
    return db.transact([&](db::Transaction& tx) -> Result<void> {
        auto done = tx.execute(sql);
        if (!done) return done.error();
        return {};
    });
}

Handler recording_handler(db::Database& db, std::string subscriber) {
    return [&db, subscriber = std::move(subscriber)](const Event& event) -> Result<void> {
        return db.transact([&](db::Transaction& tx) -> Result<void> {
            auto done =
                tx.execute("INSERT INTO received (subscriber, event_id, subject) VALUES (?, ?, ?)",
                           {subscriber, event.id, event.subject});
            if (!done) return done.error();
            return {};
        });
    };
}

Result<void> prepare_schema(db::Database& db, std::int64_t now_ms) {
    const db::ModuleMigrations modules[] = {{"events", &migrations()}};
    auto migrated = db::migrate_up(db, modules, now_ms);
    if (!migrated) return migrated.error();
    return create_received_table(db);
}

}  // namespace nimbus::events::testing
