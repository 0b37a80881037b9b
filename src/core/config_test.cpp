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

TEST(Config, ProdIsTheDefaultStageAndItsPresetIsTheDefaults) {
    auto loaded = load({});
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->config.stage, "prod");
    // The docs' default column is Config's own defaults; the prod preset must not differ.
    EXPECT_EQ(show(loaded->config), show(Config{}));
    EXPECT_EQ(loaded->config.firewall.mode, "blocking");
    EXPECT_FALSE(loaded->config.mail.dev_mailbox);
    EXPECT_EQ(loaded->config.tls.hsts_max_age_s, 31'536'000);
}

TEST(Config, StagesPresetAndExplicitSettingsWin) {
    auto dev = load({.flags = {{"stage", "dev"}}});
    ASSERT_TRUE(dev) << dev.error().message;
    EXPECT_EQ(dev->config.firewall.mode, "detection");
    EXPECT_EQ(dev->config.log.level, "debug");
    EXPECT_EQ(dev->config.http.response_cache_bytes, 0);
    EXPECT_EQ(dev->config.tls.hsts_max_age_s, 0);
    EXPECT_TRUE(dev->config.mail.dev_mailbox);
    EXPECT_EQ(dev->config.http.cors_origins,
              (std::vector<std::string>{"http://localhost:5173", "http://127.0.0.1:5173"}));
    auto test = load({.environment = {{"NIMBUS_STAGE", "test"}}});
    ASSERT_TRUE(test);
    EXPECT_EQ(test->config.firewall.mode, "blocking");
    EXPECT_TRUE(test->config.mail.dev_mailbox);
    EXPECT_TRUE(test->config.http.cors_origins.empty());

    // From the file too, and whatever is set explicitly beats the preset from any source.
    fs::path file =
        write_temp("nimbus-stage.toml", "stage = \"dev\"\n[firewall]\nmode = \"blocking\"\n");
    auto mixed = load({.file = file,
                       .environment = {{"NIMBUS_LOG_LEVEL", "warn"}},
                       .flags = {{"mail.dev_mailbox", "false"}}});
    ASSERT_TRUE(mixed) << mixed.error().message;
    EXPECT_EQ(mixed->config.stage, "dev");
    EXPECT_EQ(mixed->config.firewall.mode, "blocking");
    EXPECT_EQ(mixed->config.log.level, "warn");
    EXPECT_FALSE(mixed->config.mail.dev_mailbox);
    EXPECT_EQ(mixed->config.http.response_cache_bytes, 0) << "the rest still from the preset";
    // A flag's stage beats the file's.
    auto flagged = load({.file = file, .flags = {{"stage", "prod"}}});
    ASSERT_TRUE(flagged);
    EXPECT_EQ(flagged->config.stage, "prod");
    EXPECT_EQ(flagged->config.tls.hsts_max_age_s, 31'536'000);
    fs::remove(file);
}

TEST(Config, ShowSaysWhereEachValueCameFrom) {
    fs::path file = write_temp("nimbus-origins.toml", "stage = \"dev\"\n[http]\nthreads = 2\n");
    auto loaded = load({.file = file,
                        .environment = {{"NIMBUS_HTTP_GZIP_MIN_BYTES", "10"}},
                        .flags = {{"http.access_log", "false"}}});
    ASSERT_TRUE(loaded) << loaded.error().message;
    std::string shown = show(loaded->config, &loaded->origins);
    EXPECT_NE(shown.find("stage = \"dev\"  # file " + file.string() + " line 1"), std::string::npos)
        << shown;
    EXPECT_NE(shown.find("threads = 2  # file " + file.string() + " line 3"), std::string::npos);
    EXPECT_NE(shown.find("gzip_min_bytes = 10  # environment NIMBUS_HTTP_GZIP_MIN_BYTES"),
              std::string::npos);
    EXPECT_NE(shown.find("access_log = false  # flag"), std::string::npos);
    EXPECT_NE(shown.find("mode = \"detection\"  # stage dev"), std::string::npos);
    EXPECT_NE(shown.find("listen = \"127.0.0.1:8080\"  # default"), std::string::npos);
    // It still loads as a file.
    fs::path again = write_temp("nimbus-origins-again.toml", shown);
    auto reloaded = load({.file = again});
    ASSERT_TRUE(reloaded) << reloaded.error().message;
    EXPECT_EQ(reloaded->config.http.gzip_min_bytes, 10);
    fs::remove(file);
    fs::remove(again);
}

TEST(Config, BadStagesAreRefusedNamingTheKey) {
    for (const Sources& sources : {Sources{.flags = {{"stage", "staging"}}},
                                   Sources{.environment = {{"NIMBUS_STAGE", "Prod"}}}}) {
        auto loaded = load(sources);
        ASSERT_FALSE(loaded);
        EXPECT_NE(loaded.error().message.find("'stage'"), std::string::npos)
            << loaded.error().message;
        EXPECT_NE(loaded.error().message.find("dev, test, prod"), std::string::npos);
    }
    fs::path file = write_temp("nimbus-bad-stage.toml", "stage = 3\n");
    auto loaded = load({.file = file});
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("line 1"), std::string::npos) << loaded.error().message;
    fs::remove(file);
}

TEST(Config, PlansParseAndBadOnesAreRefused) {
    auto plan = parse_plan("pro=10000/min burst=500");
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_EQ(plan->name, "pro");
    EXPECT_EQ(plan->requests_per_minute, 10000);
    EXPECT_EQ(plan->burst, 500);
    EXPECT_EQ(parse_plan("free=1000/min")->burst, 0);
    for (const char* bad :
         {"pro", "pro=10000", "pro=0/min", "pro=-5/min", "pro=x/min", "=5/min", "p ro=5/min",
          "pro=5/min burst=0", "pro=5/min burst", "pro=5/hour", "pro=5/min extra"}) {
        EXPECT_FALSE(parse_plan(bad)) << bad;
    }
    auto loaded = load({.flags = {{"rate_limit.plans", "free=1000/min, pro=10000/min"},
                                  {"rate_limit.default_plan", "free"}}});
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config.rate_limit.plans.size(), 2U);
    struct Case {
        std::vector<std::pair<std::string, std::string>> flags;
        std::string expected;
    };
    for (const auto& c : std::vector<Case>{
             {{{"rate_limit.plans", "free=lots/min"}}, "rate_limit.plans"},
             {{{"rate_limit.plans", "free=5/min,free=6/min"}}, "given twice"},
             {{{"rate_limit.default_plan", "gold"}}, "rate_limit.default_plan"},
             {{{"rate_limit.plans", "free=5/min"}, {"rate_limit.default_plan", "gold"}},
              "not among rate_limit.plans (free)"},
             {{{"rate_limit.default_plan", "no spaces"}}, "rate_limit.default_plan"}}) {
        auto refused = load({.flags = c.flags});
        ASSERT_FALSE(refused) << c.expected;
        EXPECT_NE(refused.error().message.find(c.expected), std::string::npos)
            << refused.error().message;
    }
}

TEST(Config, IdentityValuesOnceFixedInCodeAreSettings) {
    auto loaded = load({.flags = {{"identity.mfa_token_ttl_s", "120"},
                                  {"identity.change_email_ttl_s", "7200"},
                                  {"identity.totp_issuer", "Acme Cloud"},
                                  {"identity.membership_cache_entries", "0"},
                                  {"identity.api_key_touch_interval_s", "300"}}});
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->config.identity.mfa_token_ttl_s, 120);
    EXPECT_EQ(loaded->config.identity.change_email_ttl_s, 7200);
    EXPECT_EQ(loaded->config.identity.totp_issuer, "Acme Cloud");
    EXPECT_EQ(loaded->config.identity.membership_cache_entries, 0);
    EXPECT_EQ(loaded->config.identity.api_key_touch_interval_s, 300);
    auto defaults = load({});
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->config.identity.mfa_token_ttl_s, 300);
    EXPECT_EQ(defaults->config.identity.change_email_ttl_s, 24 * 3600);
    EXPECT_EQ(defaults->config.identity.totp_issuer, "Nimbus");
    EXPECT_EQ(defaults->config.identity.membership_cache_entries, 10'000);
    EXPECT_EQ(defaults->config.identity.api_key_touch_interval_s, 60);
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"identity.mfa_token_ttl_s", "0"},
             {"identity.mfa_token_ttl_s", "86400"},
             {"identity.change_email_ttl_s", "60"},
             {"identity.totp_issuer", ""},
             {"identity.membership_cache_entries", "-1"},
             {"identity.api_key_touch_interval_s", "0"}}) {
        auto refused = load({.flags = {{key, value}}});
        ASSERT_FALSE(refused) << key << "=" << value;
        EXPECT_NE(refused.error().message.find(key), std::string::npos) << refused.error().message;
    }
}

}  // namespace
}  // namespace nimbus::config
