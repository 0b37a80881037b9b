// `nimbus`: the one binary. Parses the command line, loads the configuration and runs a
// sub-command. Every module is built in node.cpp.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/build_info.hpp"
#include "app/node.hpp"
#include "audit/audit.hpp"
#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "identity/identity.hpp"
#include "mail/mail.hpp"

extern char** environ;

namespace nimbus::app {
namespace {

/// Flags shared by every sub-command that reads the configuration.
struct ConfigFlags {
    std::string file;
    std::string listen;
    std::string data_dir;
    std::string database_url;
    std::string console_dir;
    std::string log_level;
    std::string stage;
    std::vector<std::string> set;

    void attach(CLI::App& command) {
        command.add_option("--config", file, "TOML configuration file")->check(CLI::ExistingFile);
        command.add_option("--listen", listen, "Address to serve on, host:port (http.listen)");
        command.add_option("--data-dir", data_dir, "Directory for data (data.dir)");
        command.add_option("--database-url", database_url,
                           "postgres://... to use PostgreSQL (database.url)");
        command.add_option("--console-dir", console_dir,
                           "Built web console to serve (console.dir)");
        command.add_option("--log-level", log_level,
                           "trace, debug, info, warn or error (log.level)");
        command.add_option("--stage", stage,
                           "dev, test or prod: presets for firewall mode, CORS, log level, cache, "
                           "HSTS and the dev mailbox (stage; default prod)");
        command.add_option("--set", set, "Any setting as key=value, e.g. --set http.threads=2")
            ->take_all();
    }

    Result<config::Loaded> load() const {
        config::Sources sources;
        if (!file.empty()) sources.file = file;
        for (char** entry = environ; *entry != nullptr; ++entry) {
            std::string_view text(*entry);
            std::size_t eq = text.find('=');
            if (eq == std::string_view::npos) continue;
            sources.environment.emplace(std::string(text.substr(0, eq)),
                                        std::string(text.substr(eq + 1)));
        }
        for (const std::string& pair : set) {
            std::size_t eq = pair.find('=');
            if (eq == std::string::npos) {
                return Error::invalid(fmt::format("--set expects key=value, got '{}'", pair));
            }
            sources.flags.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
        }
        auto flag = [&sources](std::string_view key, const std::string& value) {
            if (!value.empty()) sources.flags.emplace_back(std::string(key), value);
        };
        flag("http.listen", listen);
        flag("data.dir", data_dir);
        flag("database.url", database_url);
        flag("console.dir", console_dir);
        flag("log.level", log_level);
        flag("stage", stage);
        return config::load(sources);
    }
};

/// Loads the configuration or explains why not; nullopt means "exit with status 2".
std::optional<config::Config> load_config(const ConfigFlags& flags) {
    auto loaded = flags.load();
    if (!loaded) {
        std::cerr << "nimbus: " << loaded.error().message << "\n";
        return std::nullopt;
    }
    log::init(log::parse_level(loaded->config.log.level));
    for (const auto& warning : loaded->warnings) log::warn(warning);
    return loaded->config;
}

int migrate(const config::Config& config, bool apply) {
    auto lock = DataDirLock::acquire(config.data.dir);
    if (!lock) {
        std::cerr << "nimbus: " << lock.error().message << "\n";
        return kExitFailure;
    }
    auto database = open_database(config, nullptr);
    if (!database) {
        std::cerr << "nimbus: cannot open the database: " << database.error().message << "\n";
        return kExitFailure;
    }
    std::vector<db::ModuleMigrations> modules = all_migrations();
    auto status = apply ? db::migrate_up(**database, modules, SystemClock().now_ms())
                        : db::migration_status(**database, modules);
    if (!status) {
        std::cerr << "nimbus: " << status.error().message << "\n";
        return kExitFailure;
    }
    std::cout << fmt::format("{:<12} {:>7}  {:<32} {}\n", "MODULE", "VERSION", "NAME", "APPLIED");
    for (const auto& migration : *status) {
        std::cout << fmt::format(
            "{:<12} {:>7}  {:<32} {}\n", migration.module, migration.version, migration.name,
            migration.applied_at_ms ? format_rfc3339(*migration.applied_at_ms) : "pending");
    }
    return kExitOk;
}

/// `nimbus audit verify`: walks the hash chain. Read-only, so it runs beside a serving node and
/// takes no data-dir lock.
int audit_verify(const config::Config& config) {
    auto database = open_database(config, nullptr);
    if (!database) {
        std::cerr << "nimbus: cannot open the database: " << database.error().message << "\n";
        return kExitFailure;
    }
    SystemClock clock;
    auto report = audit::Log(**database, clock).verify();
    if (!report) {
        std::cerr << "nimbus: " << report.error().message << "\n";
        return kExitFailure;
    }
    if (!report->ok) {
        std::cout << fmt::format("broken at seq {}: {} ({} entries before it verified)\n",
                                 report->broken_seq, report->reason, report->entries);
        return kExitFailure;
    }
    std::cout << fmt::format("ok {} entries\n", report->entries);
    return kExitOk;
}

/// `nimbus operators add|remove|list [email]`: platform operator status (docs/identity.md).
/// Applies pending migrations first, like `serve`, so it works on a new data dir too.
int operators(const config::Config& config, const std::string& action, const std::string& email) {
    auto database = open_database(config, nullptr);
    if (!database) {
        std::cerr << "nimbus: cannot open the database: " << database.error().message << "\n";
        return kExitFailure;
    }
    SystemClock clock;
    if (auto migrated = db::migrate_up(**database, all_migrations(), clock.now_ms()); !migrated) {
        std::cerr << "nimbus: " << migrated.error().message << "\n";
        return kExitFailure;
    }
    // No mail is sent here: the queue (never started, with a throwaway key) and the dev mailbox
    // only satisfy the constructor.
    auto mailer = mail::make_dev_mailbox(**database, clock);
    auto unused_key =
        crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
    if (!unused_key) {
        std::cerr << "nimbus: " << unused_key.error().message << "\n";
        return kExitFailure;
    }
    mail::Queue mail_queue(**database, clock, *unused_key, *mailer);
    identity::Organizations orgs(**database, clock, mail_queue, {});
    if (action == "list") {
        auto found = orgs.list_operators();
        if (!found) {
            std::cerr << "nimbus: " << found.error().message << "\n";
            return kExitFailure;
        }
        for (const auto& user : *found) std::cout << user.email << " " << user.id << "\n";
        return kExitOk;
    }
    if (email.empty()) {
        std::cerr << "nimbus: operators " << action << " needs an email address\n";
        return kExitUsage;
    }
    auto done = orgs.set_operator(email, action == "add");
    if (!done) {
        std::cerr << "nimbus: " << done.error().message << "\n";
        return kExitFailure;
    }
    std::cout << (action == "add" ? "operator: " : "no longer operator: ") << email
              << " (takes effect at the next sign-in or token refresh)\n";
    return kExitOk;
}

int run(int argc, char** argv) {
    const observe::BuildInfo build = build_info();
    CLI::App app{"Nimbus: a self-hosted SaaS platform in one binary.", "nimbus"};
    app.set_version_flag("--version", fmt::format("nimbus {} ({}, {})", build.version, build.commit,
                                                  build.build_type));
    app.require_subcommand(1);

    ConfigFlags serve_flags;
    CLI::App* serve_cmd = app.add_subcommand(
        "serve", "Serve the API and the web console (default 127.0.0.1:8080, data in ./data)");
    serve_flags.attach(*serve_cmd);

    ConfigFlags migrate_flags;
    CLI::App* migrate_cmd = app.add_subcommand("migrate", "Show or apply database migrations");
    migrate_cmd->require_subcommand(1);
    CLI::App* migrate_status =
        migrate_cmd->add_subcommand("status", "List every migration and whether it is applied");
    CLI::App* migrate_up = migrate_cmd->add_subcommand("up", "Apply pending migrations");
    migrate_flags.attach(*migrate_cmd);
    // The flags live on `migrate`; let `migrate status --data-dir ...` (the order people type)
    // hand them up instead of failing with "arguments were not expected".
    migrate_status->fallthrough();
    migrate_up->fallthrough();

    ConfigFlags audit_flags;
    CLI::App* audit_cmd = app.add_subcommand("audit", "Check the audit log");
    audit_cmd->require_subcommand(1);
    CLI::App* audit_verify_cmd = audit_cmd->add_subcommand(
        "verify", "Recompute the audit log's hash chain; report the first broken entry");
    audit_flags.attach(*audit_cmd);
    audit_verify_cmd->fallthrough();  // `audit verify --data-dir ...`, as for migrate

    ConfigFlags operators_flags;
    std::string operator_email;
    CLI::App* operators_cmd =
        app.add_subcommand("operators", "Grant, withdraw or list platform operator status");
    operators_cmd->require_subcommand(1);
    std::vector<std::pair<std::string, CLI::App*>> operator_actions;
    for (const auto* action : {"add", "remove", "list"}) {
        CLI::App* command = operators_cmd->add_subcommand(
            action, std::string(action) == "list" ? "List operators"
                                                  : std::string(action) + " an operator by email");
        if (std::string(action) != "list") {
            command->add_option("email", operator_email, "The account's email")->required();
        }
        command->fallthrough();
        operator_actions.emplace_back(action, command);
    }
    operators_flags.attach(*operators_cmd);

    ConfigFlags config_flags;
    CLI::App* config_cmd = app.add_subcommand("config", "Inspect the configuration");
    config_cmd->require_subcommand(1);
    CLI::App* config_show =
        config_cmd->add_subcommand("show", "Print the effective configuration, secrets redacted");
    CLI::App* config_docs =
        config_cmd->add_subcommand("docs", "Print the reference of every setting (Markdown)");
    CLI::App* config_example =
        config_cmd->add_subcommand("example", "Print an example file with every setting");
    config_flags.attach(*config_cmd);
    config_show->fallthrough();  // `config show --config nimbus.toml`, as for migrate

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }

    if (serve_cmd->parsed()) {
        auto config = load_config(serve_flags);
        if (!config) return kExitUsage;
        int status = serve(*config);
        log::flush();
        return status;
    }
    if (migrate_cmd->parsed()) {
        auto config = load_config(migrate_flags);
        if (!config) return kExitUsage;
        return migrate(*config, migrate_up->parsed() && !migrate_status->parsed());
    }
    if (audit_verify_cmd->parsed()) {
        auto config = load_config(audit_flags);
        if (!config) return kExitUsage;
        return audit_verify(*config);
    }
    for (const auto& [action, command] : operator_actions) {
        if (!command->parsed()) continue;
        auto config = load_config(operators_flags);
        if (!config) return kExitUsage;
        return operators(*config, action, operator_email);
    }
    if (config_docs->parsed()) {
        std::cout << config::reference_markdown();
        return kExitOk;
    }
    if (config_example->parsed()) {
        std::cout << config::example_toml();
        return kExitOk;
    }
    if (config_show->parsed()) {
        auto loaded = config_flags.load();
        if (!loaded) {
            std::cerr << "nimbus: " << loaded.error().message << "\n";
            return kExitUsage;
        }
        std::cout << config::show(loaded->config, &loaded->origins);
        return kExitOk;
    }
    return kExitUsage;
}

}  // namespace
}  // namespace nimbus::app

int main(int argc, char** argv) {
    // Block the shutdown signals before any thread starts, so every thread inherits the mask and
    // `serve` can take them synchronously with sigwait instead of in a handler.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);  // reloads the TLS certificate
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    return nimbus::app::run(argc, argv);
}
