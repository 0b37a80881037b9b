// The system module's API types, written by hand until they are generated from the server's
// OpenAPI document (CONVENTIONS: "types generated from the OpenAPI document once it exists").

/** One migration the server has applied to its database. */
export interface AppliedMigration {
  module: string;
  version: number;
  name: string;
  /** RFC 3339. */
  applied_at: string;
}

/** `GET /api/v1/system/info`. */
export interface SystemInfo {
  version: string;
  commit: string;
  build_type: string;
  /** RFC 3339. */
  started_at: string;
  /** Seconds since `started_at` when the server answered. */
  uptime_seconds: number;
  database: { backend: string };
  migrations: AppliedMigration[];
}

/** `GET /healthz` (liveness). */
export interface Liveness {
  status: string;
}

/** `GET /readyz` (readiness), 200 answer: each check by name with its state, e.g. "ok". */
export interface ReadyBody {
  status: string;
  checks?: Record<string, string>;
}
