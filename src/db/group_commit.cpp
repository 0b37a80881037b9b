// Group commit (db.hpp): one committer thread runs queued write transactions as savepoints of a
// shared transaction and commits them together. With SQLite in WAL mode and synchronous = FULL
// every commit ends in an fsync of the WAL, whose latency (0.1 ms idle, several ms when the disk
// is busy) would otherwise bound writes per second no matter how short the transactions are.

#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "db/db.hpp"

namespace nimbus::db {
namespace {

/// One name is enough: members never nest, each is released or rolled back before the next.
constexpr std::string_view kSavepoint = "SAVEPOINT group_member";
constexpr std::string_view kRelease = "RELEASE SAVEPOINT group_member";
constexpr std::string_view kRollbackTo = "ROLLBACK TO SAVEPOINT group_member";

struct Member {
    GroupCommit::Work work;
    GroupCommit::Done done;
};

Result<void> run_work(const GroupCommit::Work& work, Transaction& tx) {
    try {
        return work(tx);
    } catch (const std::exception& error) {
        return Error::internal(std::string("transaction work threw: ") + error.what());
    } catch (...) {
        return Error::internal("transaction work threw");
    }
}

void call_done(const GroupCommit::Done& done, Result<void> outcome) {
    if (!done) return;
    try {
        done(std::move(outcome));
    } catch (...) {
        // The commit already happened; one caller's broken callback must not stop the thread
        // that acknowledges everyone else.
        log::error("group commit: a completion callback threw", {});
    }
}

}  // namespace

struct GroupCommit::State {
    Database& database;
    std::size_t max_batch;

    mutable std::mutex mutex;
    std::condition_variable wake;
    std::deque<Member> queue;
    bool stopping = false;
    Stats stats;
    std::thread::id committer_id;
    std::thread committer;

    State(Database& database_in, std::size_t max_batch_in)
        : database(database_in), max_batch(max_batch_in == 0 ? 1 : max_batch_in) {}

    void loop() {
        for (;;) {
            std::vector<Member> batch;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stopping || !queue.empty(); });
                if (queue.empty()) return;  // stopping, and everything submitted has run
                while (!queue.empty() && batch.size() < max_batch) {
                    batch.push_back(std::move(queue.front()));
                    queue.pop_front();
                }
            }
            run_batch(batch);
        }
    }

    void run_batch(std::vector<Member>& batch) {
        std::vector<Result<void>> outcomes(batch.size(), Result<void>{});
        std::size_t next = 0;
        while (next < batch.size()) {
            auto tx = database.begin();
            if (!tx) {
                for (; next < batch.size(); ++next) outcomes[next] = tx.error();
                break;
            }
            std::vector<std::size_t> joined;  // members whose work is in this transaction
            bool broken = false;
            for (; next < batch.size() && !broken; ++next) {
                if (auto opened = (*tx)->execute(kSavepoint); !opened) {
                    outcomes[next] = opened.error();
                    broken = true;
                    continue;
                }
                Result<void> outcome = run_work(batch[next].work, **tx);
                if (outcome) {
                    if (auto released = (*tx)->execute(kRelease); !released) {
                        outcomes[next] = released.error();
                        broken = true;
                        continue;
                    }
                    joined.push_back(next);
                    continue;
                }
                outcomes[next] = outcome.error();
                auto undone = (*tx)->execute(kRollbackTo);
                if (undone) undone = (*tx)->execute(kRelease);
                // SQLite rolls the whole transaction back after some errors (I/O, full disk),
                // which takes the savepoint with it: the earlier members' work is gone too.
                if (!undone) broken = true;
            }
            if (broken) {
                tx->reset();  // rolls back whatever is left of it
                for (std::size_t member_idx : joined) {
                    outcomes[member_idx] = Error::unavailable(
                        "the shared transaction failed before commit; nothing was written");
                }
                continue;  // the remaining members get a fresh transaction
            }
            if (joined.empty()) continue;  // every member failed: nothing to commit
            auto committed = (*tx)->commit();
            for (std::size_t member_idx : joined) {
                outcomes[member_idx] = committed ? Result<void>{} : Result<void>(committed.error());
            }
            if (committed) {
                std::lock_guard lock(mutex);
                ++stats.commits;
                stats.members += joined.size();
            }
        }
        for (std::size_t member_idx = 0; member_idx < batch.size(); ++member_idx) {
            call_done(batch[member_idx].done, std::move(outcomes[member_idx]));
        }
    }
};

GroupCommit::GroupCommit(Database& database, std::size_t max_batch)
    : state_(std::make_unique<State>(database, max_batch)) {
    state_->committer = std::thread([state = state_.get()] { state->loop(); });
    std::lock_guard lock(state_->mutex);
    state_->committer_id = state_->committer.get_id();
}

GroupCommit::~GroupCommit() {
    {
        std::lock_guard lock(state_->mutex);
        state_->stopping = true;
    }
    state_->wake.notify_one();
    state_->committer.join();
}

void GroupCommit::submit(Work work, Done done) {
    {
        std::lock_guard lock(state_->mutex);
        if (!state_->stopping) {
            state_->queue.push_back({std::move(work), std::move(done)});
            state_->wake.notify_one();
            return;
        }
    }
    call_done(done, Error::unavailable("the database is shutting down"));
}

Result<void> GroupCommit::transact(const Work& work) {
    {
        std::lock_guard lock(state_->mutex);
        if (std::this_thread::get_id() == state_->committer_id) {
            return Error::internal("GroupCommit::transact() from the committer thread");
        }
    }
    std::promise<Result<void>> outcome;
    auto future = outcome.get_future();
    submit(work, [&outcome](Result<void> committed) { outcome.set_value(std::move(committed)); });
    return future.get();
}

GroupCommit::Stats GroupCommit::stats() const {
    std::lock_guard lock(state_->mutex);
    return state_->stats;
}

}  // namespace nimbus::db
