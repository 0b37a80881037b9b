#pragma once
// The firewall's prefilter (private to the gateway): decides, without ModSecurity, that no rule
// of the loaded rule set could score a request, so the full engine may be skipped with the
// same verdict. docs/gateway.md ("Prefilter") gives the argument; firewall_test.cpp checks it
// against the full engine over the corpora and thousands of generated requests.
#include <memory>
#include <string>
#include <vector>

#include "http/http.hpp"

namespace nimbus::gateway::internal {

/// A rules file to analyse, in load order: its text and the folder its data files are in.
struct RulesText {
    std::string name;  ///< for messages
    std::string text;
    std::string data_dir;  ///< where @pmFromFile finds its files
    /// False for rules the operator adds (`firewall.extra_rules_file`): their setvars of the
    /// settings the prefilter relies on, and their removals and updates of rules, switch it off.
    bool shipped = true;
};

/// Built once from the rules the engine loaded; read-only afterwards, so shared by threads.
class Prefilter {
public:
    /// Analyses `files` for `paranoia_level`. Never fails: when a scoring rule at that level is
    /// neither screened by its literals nor one of the rules the prefilter checks by hand, the
    /// prefilter is inactive (every request goes to the engine) and reason() says why.
    /// `cache_entries`: how many texts each thread remembers as clean per string class (0:
    /// none; every text is screened every time).
    static std::unique_ptr<Prefilter> build(const std::vector<RulesText>& files, int paranoia_level,
                                            std::size_t cache_entries);
    ~Prefilter();
    Prefilter(const Prefilter&) = delete;
    Prefilter& operator=(const Prefilter&) = delete;

    /// Whether requests can be cleared at all.
    bool active() const;
    /// Why the prefilter is inactive; empty when active.
    const std::string& reason() const;
    /// Numbers for the start log: literals screened, rules analysed.
    std::size_t atom_count() const;
    std::size_t rule_count() const;

    /// True when no rule could score `request` seen from `client_address`: the engine would
    /// pass it with no rule matched. False means "ask the engine", never "attack".
    bool clears(const http::Request& request, std::string_view client_address) const;
    /// Why clears() is false (the first check that fails); empty when it is true.
    std::string refusal(const http::Request& request, std::string_view client_address) const;

private:
    Prefilter();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nimbus::gateway::internal
