// A bounded hand-off from threads that must not wait (I/O threads) to a writer thread that emits
// outbox events in batches. Dropping beyond the bound is deliberate: a flood of blocked attacks
// must not grow memory without limit or slow the node down; the drop counter tells operators.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "audit/audit.hpp"
#include "core/metrics.hpp"

namespace nimbus::audit {

struct EventQueue::State {
    db::Database& database;
    const Clock& clock;
    Options options;
    metrics::Counter* dropped_counter = nullptr;
    metrics::Counter* written_counter = nullptr;

    std::mutex mutex;
    std::condition_variable wake;
    std::condition_variable drained;
    std::deque<events::EventDraft> queue;
    std::size_t in_flight = 0;  // taken off the queue, not yet written
    bool stopping = false;
    std::atomic<std::uint64_t> dropped{0};
    std::thread worker;

    State(db::Database& db, const Clock& c, Options o)
        : database(db), clock(c), options(std::move(o)) {}

    void run() {
        std::unique_lock lock(mutex);
        while (true) {
            wake.wait(lock, [this] { return stopping || !queue.empty(); });
            if (queue.empty()) return;  // stopping, and everything is written
            std::vector<events::EventDraft> batch;
            while (!queue.empty() && batch.size() < options.batch_size) {
                batch.push_back(std::move(queue.front()));
                queue.pop_front();
            }
            in_flight = batch.size();
            lock.unlock();
            write(batch);
            lock.lock();
            in_flight = 0;
            drained.notify_all();
        }
    }

    void write(const std::vector<events::EventDraft>& batch) {
        auto done = database.transact([&](db::Transaction& tx) -> Result<void> {
            for (const auto& draft : batch) {
                auto id = events::emit(tx, clock, draft);
                if (!id) return id.error();
            }
            return {};
        });
        if (!done) {
            // A lost database loses the batch: retrying would hold I/O threads' events in memory
            // without bound, and the drop is visible in the counter and the log.
            dropped.fetch_add(batch.size(), std::memory_order_relaxed);
            if (dropped_counter != nullptr) dropped_counter->inc(static_cast<double>(batch.size()));
            if (options.on_error) options.on_error(done.error());
            return;
        }
        if (written_counter != nullptr) written_counter->inc(static_cast<double>(batch.size()));
        if (options.on_committed) options.on_committed();
    }
};

EventQueue::EventQueue(db::Database& database, const Clock& clock, metrics::Registry* registry,
                       Options options)
    : state_(std::make_unique<State>(database, clock, std::move(options))) {
    if (registry != nullptr) {
        state_->dropped_counter =
            &registry
                 ->counter("nimbus_audit_queue_dropped_total",
                           "Events for the audit log dropped because the queue was full or the "
                           "database failed.")
                 .with({});
        state_->written_counter =
            &registry
                 ->counter("nimbus_audit_queue_written_total",
                           "Events written to the outbox from the audit queue.")
                 .with({});
    }
    state_->worker = std::thread([state = state_.get()] { state->run(); });
}

EventQueue::~EventQueue() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_all();
    state_->worker.join();
}

bool EventQueue::push(events::EventDraft draft) {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->queue.size() + state_->in_flight < state_->options.capacity) {
            state_->queue.push_back(std::move(draft));
            state_->wake.notify_one();
            return true;
        }
    }
    state_->dropped.fetch_add(1, std::memory_order_relaxed);
    if (state_->dropped_counter != nullptr) state_->dropped_counter->inc();
    return false;
}

void EventQueue::flush() {
    std::unique_lock lock(state_->mutex);
    state_->drained.wait(lock, [this] { return state_->queue.empty() && state_->in_flight == 0; });
}

std::uint64_t EventQueue::dropped() const {
    return state_->dropped.load(std::memory_order_relaxed);
}

}  // namespace nimbus::audit
