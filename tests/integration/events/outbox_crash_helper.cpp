// Emits events into an SQLite outbox while a dispatcher delivers them to a recording subscriber,
// printing each event id once its transaction committed, until it is killed.
//
//     outbox_crash_helper DB_PATH
#include <cstdio>

#include "recorder.hpp"

namespace {

constexpr int kSubjects = 10;
constexpr int kMaxEvents = 100000;  // the parent kills us long before
constexpr std::chrono::milliseconds kPollInterval{5};
constexpr std::chrono::milliseconds kLease{2000};

}  // namespace

int main(int argc, char** argv) {
    using namespace nimbus;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
        return 2;
    }
    SystemClock clock;
    db::Options options;
    options.sqlite_path = argv[1];
    auto db = db::open(options);
    if (!db) {
        std::fprintf(stderr, "open: %s\n", db.error().message.c_str());
        return 1;
    }
    if (auto ready = events::testing::prepare_schema(**db, clock.now_ms()); !ready) {
        std::fprintf(stderr, "schema: %s\n", ready.error().message.c_str());
        return 1;
    }
    events::DispatcherOptions dispatcher_options;
    dispatcher_options.node_id = "node_crashing";
    dispatcher_options.poll_interval = kPollInterval;
    dispatcher_options.lease_duration = kLease;
    events::Dispatcher dispatcher(**db, clock, dispatcher_options);
    (void)dispatcher.subscribe("recorder", events::testing::recording_handler(**db, "recorder"));
    if (auto started = dispatcher.start(); !started) {
        std::fprintf(stderr, "start: %s\n", started.error().message.c_str());
        return 1;
    }
    for (int event_idx = 0; event_idx < kMaxEvents; ++event_idx) {
        std::string id;
        auto done = (*db)->transact([&](db::Transaction& tx) -> Result<void> {
            auto emitted = events::emit(tx, clock,
                                        {"nimbus.test.item.changed", "/nimbus/test",
                                         "item_" + std::to_string(event_idx % kSubjects),
                                         "{\"n\":" + std::to_string(event_idx) + "}"});
            if (!emitted) return emitted.error();
            id = *emitted;
            return {};
        });
        if (!done) {
            std::fprintf(stderr, "emit: %s\n", done.error().message.c_str());
            return 1;
        }
        // Printed only after the commit: every printed id is durable.
        std::printf("%s\n", id.c_str());
        std::fflush(stdout);
        dispatcher.wake();
    }
    return 0;
}
