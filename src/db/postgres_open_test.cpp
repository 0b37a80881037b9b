// Opening PostgreSQL where nothing listens: no server needed.
#include <gtest/gtest.h>

#include <chrono>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db/db.hpp"

namespace nimbus::db {
namespace {

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int unused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t size = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    ::close(fd);
    return ntohs(address.sin_port);
}

TEST(PostgresOpen, UnreachableServerIsUnavailableAndNamesHostButNotPassword) {
    const int port = unused_port();
    Options options;
    options.url = "postgres://nimbus:s3cr3t-pa55@127.0.0.1:" + std::to_string(port) + "/nimbus";
    options.connect_retries = 2;
    options.connect_retry_interval = std::chrono::milliseconds(50);
    const auto started = std::chrono::steady_clock::now();
    auto db = open(options);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, ErrorCode::unavailable);
    EXPECT_NE(db.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << db.error().message;
    EXPECT_EQ(db.error().message.find("s3cr3t-pa55"), std::string::npos) << db.error().message;
    EXPECT_GE(elapsed, std::chrono::milliseconds(100)) << "two retries wait twice";
}

TEST(PostgresOpen, MalformedUrlDoesNotEchoIt) {
    Options options;
    options.url = "postgres://user:hunter2@127.0.0.1:notaport%zz/db?bogus_option=1";
    auto db = open(options);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().message.find("hunter2"), std::string::npos) << db.error().message;
}

TEST(Open, RejectsUnknownSchemesAndBadOptions) {
    Options options;
    options.url = "mysql://user:pw@host/db";
    auto db = open(options);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(db.error().message.find("pw@"), std::string::npos);

    Options no_path;
    EXPECT_EQ(open(no_path).error().code, ErrorCode::invalid_argument);

    Options zero_pool;
    zero_pool.sqlite_path = "/tmp/unused.db";
    zero_pool.pool_size = 0;
    EXPECT_EQ(open(zero_pool).error().code, ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace nimbus::db
