#include "core/config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace nimbus::config {
namespace {

namespace fs = std::filesystem;

fs::path write_temp(const std::string& name, const std::string& text) {
    fs::path path = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
    std::ofstream(path) << text;
    return path;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

TEST(Config, DefaultsNeedNothing) {
    auto loaded = load({});
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->config.http.listen, "127.0.0.1:8080");
    EXPECT_EQ(loaded->config.data.dir, "./data");
    EXPECT_EQ(loaded->config.database.url, "");
    EXPECT_EQ(loaded->config.http.max_body_bytes, 1024 * 1024);
}

TEST(Config, FileThenEnvThenFlags) {
    fs::path file =
        write_temp("nimbus-precedence.toml",
                   "[http]\nlisten = \"127.0.0.1:1000\"\nthreads = 3\n[log]\nlevel = \"debug\"\n");
    Sources sources;
    sources.file = file;
    sources.environment = {{"NIMBUS_HTTP_LISTEN", "127.0.0.1:2000"}, {"HOME", "/root"}};
    auto from_env = load(sources);
    ASSERT_TRUE(from_env) << from_env.error().message;
    EXPECT_EQ(from_env->config.http.listen, "127.0.0.1:2000");
    EXPECT_EQ(from_env->config.http.threads, 3);
    EXPECT_EQ(from_env->config.log.level, "debug");
    sources.flags = {{"http.listen", "127.0.0.1:3000"}};
    auto from_flag = load(sources);
    ASSERT_TRUE(from_flag);
    EXPECT_EQ(from_flag->config.http.listen, "127.0.0.1:3000");
    fs::remove(file);
}

TEST(Config, UnknownFileKeyNamesKeyLineAndKnownKeys) {
    fs::path file = write_temp("nimbus-unknown.toml", "[http]\n\nlisen = \"x\"\n");
    auto loaded = load({.file = file});
    ASSERT_FALSE(loaded);
    const std::string& message = loaded.error().message;
    EXPECT_NE(message.find("http.lisen"), std::string::npos) << message;
    EXPECT_NE(message.find("line 3"), std::string::npos) << message;
    EXPECT_NE(message.find("http.listen"), std::string::npos) << message;
    fs::remove(file);
}

TEST(Config, BadValuesNameTheKeyAndWhatIsAllowed) {
    struct Case {
        std::string env_name;
        std::string value;
        std::string expected;
    };
    std::vector<Case> cases = {
        {"NIMBUS_HTTP_LISTEN", "localhost", "host:port"},
        {"NIMBUS_HTTP_LISTEN", "127.0.0.1:70000", "host:port"},
        {"NIMBUS_HTTP_THREADS", "many", "integer from 0 to 256"},
        {"NIMBUS_HTTP_THREADS", "-1", "integer from 0 to 256"},
        {"NIMBUS_HTTP_ACCESS_LOG", "yes", "true or false"},
        {"NIMBUS_LOG_LEVEL", "loud", "one of: trace, debug, info, warn, error"},
        {"NIMBUS_DATABASE_URL", "mysql://x", "postgres://"},
        {"NIMBUS_DATABASE_SQLITE_SYNCHRONOUS", "extra", "one of: full, normal, off"},
        {"NIMBUS_HTTP_CORS_ORIGINS", "example.com", "not an origin"},
    };
    for (const auto& c : cases) {
        auto loaded = load({.environment = {{c.env_name, c.value}}});
        ASSERT_FALSE(loaded) << c.env_name;
        EXPECT_NE(loaded.error().message.find(c.env_name), std::string::npos)
            << loaded.error().message;
        EXPECT_NE(loaded.error().message.find(c.expected), std::string::npos)
            << loaded.error().message;
    }
}

TEST(Config, WrongTomlTypesAndSyntaxAreRefused) {
    for (const std::string& text :
         {std::string("[http]\nthreads = \"4\"\n"), std::string("[http]\nlisten = \n"),
          std::string("listen = \"x\"\n"), std::string("[nosuch]\nkey = 1\n")}) {
        fs::path file = write_temp("nimbus-bad.toml", text);
        auto loaded = load({.file = file});
        EXPECT_FALSE(loaded) << text;
        fs::remove(file);
    }
    EXPECT_FALSE(load({.file = fs::path("/nonexistent/nimbus.toml")}));
}

TEST(Config, UnknownFlagKeyIsRefusedAndUnknownEnvWarns) {
    EXPECT_FALSE(load({.flags = {{"http.nope", "1"}}}));
    auto loaded = load({.environment = {{"NIMBUS_HTTP_NOPE", "1"}}});
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->warnings.size(), 1U);
    EXPECT_NE(loaded->warnings[0].find("NIMBUS_HTTP_NOPE"), std::string::npos);
}

TEST(Config, SecretsComeFromFilesAndAreRedacted) {
    fs::path secret =
        write_temp("nimbus-secret", "postgres://app:s3cret@db.internal:5432/nimbus\n");
    auto loaded = load({.environment = {{"NIMBUS_DATABASE_URL_FILE", secret.string()}}});
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config.database.url, "postgres://app:s3cret@db.internal:5432/nimbus");
    std::string shown = show(loaded->config);
    EXPECT_EQ(shown.find("s3cret"), std::string::npos) << shown;
    EXPECT_NE(shown.find("postgres://app:***@db.internal:5432/nimbus"), std::string::npos) << shown;
    fs::remove(secret);
}

TEST(Config, RedactsPasswordsInUrls) {
    EXPECT_EQ(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    EXPECT_EQ(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_url("postgres://h/db?user=u&password=pw&x=1"),
              "postgres://h/db?user=u&password=***&x=1");
}

TEST(Config, ParsesListenAddresses) {
    auto v4 = parse_listen("0.0.0.0:80");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "0.0.0.0");
    EXPECT_EQ(v4->port, 80);
    auto v6 = parse_listen("[::1]:0");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_FALSE(parse_listen("::1:80"));
    EXPECT_FALSE(parse_listen(":80"));
    EXPECT_FALSE(parse_listen("host:"));
}

TEST(Config, ShowRoundTripsThroughTheFileLoader) {
    Config changed;
    changed.http.listen = "127.0.0.1:9999";
    changed.http.cors_origins = {"https://app.example.com"};
    fs::path file = write_temp("nimbus-roundtrip.toml", show(changed));
    auto loaded = load({.file = file});
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config.http.listen, "127.0.0.1:9999");
    EXPECT_EQ(loaded->config.http.cors_origins, changed.http.cors_origins);
    fs::remove(file);
}

TEST(Config, ExampleFileLoadsAndDocsMatchTheDeclarations) {
    fs::path example = write_temp("nimbus-example.toml", example_toml());
    EXPECT_TRUE(load({.file = example}));
    fs::remove(example);
    // The committed reference must be what the declarations generate: regenerate with
    // `nimbus config docs > docs/configuration.md` and `nimbus config example >
    // nimbus.example.toml`.
    fs::path source_dir = NIMBUS_SOURCE_DIR;
    EXPECT_EQ(read_file(source_dir / "docs" / "configuration.md"), reference_markdown());
    EXPECT_EQ(read_file(source_dir / "nimbus.example.toml"), example_toml());
}

}  // namespace
}  // namespace nimbus::config
