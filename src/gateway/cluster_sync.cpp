// Cluster sync: runtime gateway changes made on one node reach the others through the shared
// database, by polling a few version rows and a short log of written paths.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "db/db.hpp"
#include "gateway/gateway.hpp"
#include "gateway/rate_limit_internal.hpp"

namespace nimbus::gateway {
namespace {

constexpr std::string_view kIpRules = "ip_rules";
constexpr std::string_view kOverrides = "rate_limit_overrides";
/// Identity values are handed out when a row is inserted but become visible when it commits, so
/// a row may appear below one already seen. Each poll looks this far back and applies the ids it
/// has not applied yet; a row later than this many newer rows is missed (its entries then expire
/// by their own TTL).
constexpr std::int64_t kLookbackIds = 256;
/// At most this many rows per poll; the rest follow at the next one.
constexpr std::int64_t kMaxRowsPerPoll = 5000;
/// At most this many paths wait to be written; beyond it the oldest are dropped (with a warning)
/// rather than letting a database outage grow memory without bound.
constexpr std::size_t kMaxQueuedPaths = 10'000;
constexpr std::int64_t kPruneIntervalMs = 60'000;

}  // namespace

struct ClusterSync::Impl {
    Impl(db::Database& database, const Clock& clock, ClusterSyncSettings settings)
        : database(database),
          clock(clock),
          settings(std::move(settings)),
          origin(new_id("node", clock.now_ms())) {}

    db::Database& database;
    const Clock& clock;
    ClusterSyncSettings settings;
    const std::string origin;  // this node, so it skips its own invalidations

    std::mutex sync_mutex;  // one sync at a time (the thread, or a test calling sync_now)
    std::int64_t ip_rules_version = 0;
    std::int64_t overrides_version = 0;
    std::int64_t high_water = 0;              // the highest invalidation id seen
    std::set<std::int64_t> recently_applied;  // ids above high_water - kLookbackIds
    std::int64_t next_prune_ms = 0;

    std::mutex queue_mutex;
    std::condition_variable wake;
    std::deque<std::string> queued;
    bool stopping = false;
    std::thread thread;

    Result<std::pair<std::int64_t, std::int64_t>> read_versions() {
        auto rows = database.query("SELECT name, version FROM gateway_versions");
        if (!rows) return rows.error();
        std::pair<std::int64_t, std::int64_t> versions{0, 0};
        for (const auto& row : *rows) {
            if (row.get_text(0) == kIpRules) versions.first = row.get_int(1);
            if (row.get_text(0) == kOverrides) versions.second = row.get_int(1);
        }
        return versions;
    }

    Result<void> write_queued() {
        std::deque<std::string> paths;
        {
            std::lock_guard lock(queue_mutex);
            paths.swap(queued);
        }
        if (paths.empty()) return {};
        // Several writes to one path in a poll interval need one row.
        std::sort(paths.begin(), paths.end());
        paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
        std::int64_t now_ms = clock.now_ms();
        return database.transact([&](db::Transaction& tx) -> Result<void> {
            for (const auto& path : paths) {
                auto inserted = tx.execute(
                    "INSERT INTO gateway_cache_invalidations (origin, path, created_at_ms) "
                    "VALUES (?, ?, ?)",
                    {origin, path, now_ms});
                if (!inserted) return inserted.error();
            }
            return {};
        });
    }

    Result<void> apply_invalidations() {
        auto rows = database.query(
            "SELECT id, origin, path FROM gateway_cache_invalidations WHERE id > ? ORDER BY id "
            "LIMIT ?",
            {std::max<std::int64_t>(high_water - kLookbackIds, 0), kMaxRowsPerPoll});
        if (!rows) return rows.error();
        for (const auto& row : *rows) {
            std::int64_t id = row.get_int(0);
            if (!recently_applied.insert(id).second) continue;
            high_water = std::max(high_water, id);
            if (row.get_text(1) != origin && settings.invalidate_cached) {
                settings.invalidate_cached(row.get_text(2));
            }
        }
        recently_applied.erase(recently_applied.begin(),
                               recently_applied.lower_bound(high_water - kLookbackIds));
        return {};
    }

    Result<void> reload_changed() {
        auto versions = read_versions();
        if (!versions) return versions.error();
        if (versions->first != ip_rules_version && settings.ip_rules != nullptr) {
            if (auto reloaded = settings.ip_rules->reload(); !reloaded) return reloaded;
            log::info("IP rules reloaded after a change on another node",
                      {{"version", versions->first}});
        }
        ip_rules_version = versions->first;
        if (versions->second != overrides_version && settings.rate_limiter) {
            if (auto reloaded = settings.rate_limiter->reload_overrides(database); !reloaded)
                return reloaded;
        }
        overrides_version = versions->second;
        return {};
    }

    void prune() {
        std::int64_t now_ms = clock.now_ms();
        if (now_ms < next_prune_ms) return;
        next_prune_ms = now_ms + kPruneIntervalMs;
        auto pruned = database.transact([&](db::Transaction& tx) -> Result<void> {
            auto deleted =
                tx.execute("DELETE FROM gateway_cache_invalidations WHERE created_at_ms < ?",
                           {now_ms - settings.invalidation_retention.count()});
            if (!deleted) return deleted.error();
            return {};
        });
        if (!pruned)
            log::warn("cannot prune cache invalidations", {{"error", pruned.error().message}});
    }

    Result<void> sync() {
        std::lock_guard lock(sync_mutex);
        Result<void> written = write_queued();
        Result<void> reloaded = reload_changed();
        Result<void> applied = settings.invalidate_cached ? apply_invalidations() : Result<void>();
        prune();
        if (!written) return written;
        if (!reloaded) return reloaded;
        return applied;
    }

    void run() {
        // Failures are logged once per outage, not once per poll.
        bool failing = false;
        std::unique_lock lock(queue_mutex);
        while (!stopping) {
            wake.wait_for(lock, settings.poll_interval,
                          [this] { return stopping || !queued.empty(); });
            if (stopping) break;
            lock.unlock();
            Result<void> synced = sync();
            if (!synced && !failing) {
                log::warn("cluster sync failed; retrying every poll",
                          {{"error", synced.error().message}});
            } else if (synced && failing) {
                log::info("cluster sync recovered");
            }
            failing = !synced;
            lock.lock();
        }
    }
};

ClusterSync::ClusterSync() = default;

Result<std::unique_ptr<ClusterSync>> ClusterSync::start(db::Database& database, const Clock& clock,
                                                        ClusterSyncSettings settings) {
    std::unique_ptr<ClusterSync> sync(new ClusterSync());
    sync->impl_ = std::make_unique<Impl>(database, clock, std::move(settings));
    Impl& impl = *sync->impl_;
    auto versions = impl.read_versions();
    if (!versions) return versions.error();
    impl.ip_rules_version = versions->first;
    impl.overrides_version = versions->second;
    auto newest = database.query("SELECT MAX(id) FROM gateway_cache_invalidations");
    if (!newest) return newest.error();
    if (!newest->empty() && !newest->front().is_null(0))
        impl.high_water = newest->front().get_int(0);
    impl.next_prune_ms = clock.now_ms() + kPruneIntervalMs;
    impl.thread = std::thread([&impl] { impl.run(); });
    return sync;
}

ClusterSync::~ClusterSync() {
    if (!impl_) return;
    {
        std::lock_guard lock(impl_->queue_mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();
    std::lock_guard lock(impl_->sync_mutex);
    if (auto written = impl_->write_queued(); !written) {
        log::warn("cache invalidations not shared at shutdown",
                  {{"error", written.error().message}});
    }
}

void ClusterSync::publish_invalidation(const std::string& path) {
    {
        std::lock_guard lock(impl_->queue_mutex);
        if (impl_->queued.size() >= kMaxQueuedPaths) {
            impl_->queued.pop_front();
            log::warn("cache invalidation queue full; dropping the oldest path");
        }
        impl_->queued.push_back(path);
    }
    impl_->wake.notify_one();
}

Result<void> ClusterSync::sync_now() { return impl_->sync(); }

}  // namespace nimbus::gateway
