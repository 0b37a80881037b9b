#include "core/result.hpp"

namespace nimbus {

const char* to_string(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_argument: return "invalid_argument";
        case ErrorCode::unauthenticated: return "unauthenticated";
        case ErrorCode::permission_denied: return "permission_denied";
        case ErrorCode::not_found: return "not_found";
        case ErrorCode::conflict: return "conflict";
        case ErrorCode::precondition_failed: return "precondition_failed";
        case ErrorCode::too_large: return "too_large";
        case ErrorCode::rate_limited: return "rate_limited";
        case ErrorCode::unavailable: return "unavailable";
        case ErrorCode::internal: return "internal";
    }
    return "internal";
}

}  // namespace nimbus
