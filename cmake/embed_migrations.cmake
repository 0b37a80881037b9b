# Generates OUT: a C++ source defining nimbus::<MODULE>::migrations() from DIR/*.sql.
# Files are NNN_name.sql; NNN_name.postgres.sql, when present, replaces it on PostgreSQL.
file(GLOB files ${DIR}/*.sql)
list(SORT files)
set(entries "")
foreach(path ${files})
  get_filename_component(fname ${path} NAME)
  if(fname MATCHES "\\.postgres\\.sql$")
    continue()
  endif()
  if(NOT fname MATCHES "^([0-9]+)_([a-z0-9_]+)\\.sql$")
    message(FATAL_ERROR "migration file name must be NNN_name.sql: ${path}")
  endif()
  set(version ${CMAKE_MATCH_1})
  set(name ${CMAKE_MATCH_2})
  math(EXPR version "${version} + 0")
  file(READ ${path} sqlite_sql)
  set(pg_path ${DIR}/${CMAKE_MATCH_1}_${name}.postgres.sql)
  if(EXISTS ${pg_path})
    file(READ ${pg_path} pg_sql)
  else()
    set(pg_sql "${sqlite_sql}")
  endif()
  string(APPEND entries "        {${version}, \"${name}\", R\"nimbus_sql(${sqlite_sql})nimbus_sql\", R\"nimbus_sql(${pg_sql})nimbus_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from ${DIR} by cmake/embed_migrations.cmake. Do not edit.
#include \"db/db.hpp\"

namespace nimbus::${MODULE} {

const std::vector<nimbus::db::Migration>& migrations() {
    static const std::vector<nimbus::db::Migration> kMigrations = {
${entries}    };
    return kMigrations;
}

}  // namespace nimbus::${MODULE}
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
