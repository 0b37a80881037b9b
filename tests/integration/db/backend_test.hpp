#pragma once
/// A test suite run once on SQLite and once on PostgreSQL, each test on a fresh store:
///
///     class ThingTest : public db::testing::BackendTest {};
///     TEST_P(ThingTest, Works) { ... db() ... }
///     INSTANTIATE_TEST_SUITE_P(Backends, ThingTest, db::testing::kBothBackends,
///                              db::testing::backend_name);

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "test_database.hpp"

namespace nimbus::db::testing {

/// The parameters of a BackendTest suite.
inline const auto kBothBackends = ::testing::Values(Backend::sqlite, Backend::postgres);

/// Names each instance after its backend ("sqlite", "postgres") instead of a number.
inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
    return std::string(to_string(info.param));
}

/// Gives each test a fresh store on the suite's backend. PostgreSQL tests are skipped when the
/// test cluster is not configured; a suite that overrides SetUp() calls this one first and
/// returns when IsSkipped() or HasFatalFailure().
class BackendTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override { open_store({}); }

    /// Replaces the store with a fresh one opened with `options`.
    void open_store(Options options) {
        if (GetParam() == Backend::postgres && !postgres_admin_url()) {
            GTEST_SKIP() << "PostgreSQL test cluster not configured";
        }
        store_.reset();
        auto store = TestDatabase::create(GetParam(), std::move(options));
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(*store);
    }

    Database& db() { return store_->db(); }
    bool is_postgres() const { return GetParam() == Backend::postgres; }

    std::unique_ptr<TestDatabase> store_;
};

}  // namespace nimbus::db::testing
