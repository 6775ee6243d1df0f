"""The curated allowlist of PostgreSQL built-in functions a query may call.

Every name here is a read-only built-in without side effects: it does not change settings,
take locks, touch files, sequences, large objects, other sessions or other databases, does not
assign a transaction id, and does not run SQL given to it as a string. A name that is not
listed is refused, whatever it is. Names are matched after PostgreSQL's identifier folding
(unquoted: lower case), unqualified or qualified with ``pg_catalog``.

To allow one more built-in, add its name to the family it belongs to below, with a test in
``tests/unit/guard``; to allow a site's own function, operators set
``SQLGATEWAY_ALLOWED_FUNCTIONS`` instead (see docs/guard.md).

Deliberately absent (refused): ``current_setting`` (custom settings such as ``app.*`` may hold
secrets) and ``set_config``, ``pg_sleep*``, ``pg_advisory_*``, ``lo_*``/``loread``/``lowrite``,
``pg_read_file``/``pg_ls_dir``/``pg_stat_file``, ``dblink*``, ``pg_notify``, backend
signalling, WAL/replication/backup functions, ``nextval``/``setval``/``currval``/``lastval``,
``pg_stat_reset*``, ``pg_reload_conf``, ``query_to_xml`` and other SQL-in-a-string functions
(``ts_stat``, ``ts_rewrite``, ``*_to_xml*``), ``txid_current``/``pg_current_xact_id``,
``setseed`` (session state), catalog-reading helpers (``pg_get_*def``, ``obj_description``).
"""

from __future__ import annotations

from sqlglot import exp

_FAMILIES: dict[str, str] = {
    "aggregate": """
        array_agg avg bit_and bit_or bit_xor bool_and bool_or count every max min sum
        string_agg any_value range_agg range_intersect_agg
        json_agg jsonb_agg json_agg_strict jsonb_agg_strict json_object_agg jsonb_object_agg
        json_object_agg_strict jsonb_object_agg_strict json_object_agg_unique
        jsonb_object_agg_unique json_object_agg_unique_strict jsonb_object_agg_unique_strict
        json_arrayagg
    """,
    "statistics aggregate": """
        corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2
        regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp variance var_pop
        var_samp
    """,
    "ordered-set and hypothetical-set aggregate": """
        mode percentile_cont percentile_disc rank dense_rank percent_rank cume_dist grouping
    """,
    "window": """
        row_number ntile lag lead first_value last_value nth_value
    """,
    "math": """
        abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 min_scale
        mod pi power pow radians round scale sign sqrt trim_scale trunc width_bucket random
        random_normal erf erfc gamma lgamma
        acos acosd asin asind atan atand atan2 atan2d cos cosd cot cotd sin sind tan tand
        sinh cosh tanh asinh acosh atanh
    """,
    "string": """
        ascii bit_length btrim char_length character_length chr concat concat_ws format
        initcap left length lower lpad ltrim md5 normalize octet_length overlay position
        quote_ident quote_literal quote_nullable regexp_count regexp_instr regexp_like
        regexp_match regexp_matches regexp_replace regexp_split_to_array
        regexp_split_to_table regexp_substr repeat replace reverse right rpad rtrim
        split_part starts_with string_to_array string_to_table strpos substr substring
        to_ascii to_hex to_bin to_oct translate trim upper unistr casefold parse_ident
    """,
    "binary": """
        sha224 sha256 sha384 sha512 encode decode convert convert_from convert_to get_byte
        get_bit bit_count crc32 crc32c
    """,
    "formatting": """
        to_char to_date to_number to_timestamp
    """,
    "date/time": """
        age clock_timestamp date_add date_bin date_part date_subtract date_trunc extract
        isfinite justify_days justify_hours justify_interval make_date make_interval make_time
        make_timestamp make_timestamptz now statement_timestamp timeofday
        transaction_timestamp timezone current_date current_time current_timestamp localtime
        localtimestamp
    """,
    "enum": """
        enum_first enum_last enum_range
    """,
    "text search": """
        to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank
        ts_rank_cd ts_headline setweight strip numnode querytree tsvector_to_array
        array_to_tsvector ts_delete ts_filter
    """,
    "uuid": """
        gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version
    """,
    "json": """
        to_json to_jsonb array_to_json row_to_json json_build_array jsonb_build_array
        json_build_object jsonb_build_object json_object jsonb_object json_array_elements
        json_array_elements_text jsonb_array_elements jsonb_array_elements_text
        json_array_length jsonb_array_length json_each json_each_text jsonb_each
        jsonb_each_text json_extract_path json_extract_path_text jsonb_extract_path
        jsonb_extract_path_text json_object_keys jsonb_object_keys json_populate_record
        json_populate_recordset jsonb_populate_record jsonb_populate_recordset
        jsonb_populate_record_valid json_to_record json_to_recordset jsonb_to_record
        jsonb_to_recordset json_strip_nulls jsonb_strip_nulls jsonb_set jsonb_set_lax
        jsonb_insert jsonb_pretty json_typeof jsonb_typeof jsonb_path_exists jsonb_path_match
        jsonb_path_query jsonb_path_query_array jsonb_path_query_first jsonb_path_exists_tz
        jsonb_path_match_tz jsonb_path_query_tz jsonb_path_query_array_tz
        jsonb_path_query_first_tz json_scalar json_array json_exists json_query json_value
    """,
    "array": """
        array array_append array_cat array_dims array_fill array_length array_lower
        array_ndims array_position array_positions array_prepend array_remove array_replace
        array_reverse array_sample array_shuffle array_sort array_to_string array_upper
        cardinality trim_array unnest generate_subscripts
    """,
    "set-returning": """
        generate_series
    """,
    "range": """
        isempty lower_inc upper_inc lower_inf upper_inf range_merge int4range int8range
        numrange tsrange tstzrange daterange int4multirange int8multirange nummultirange
        tsmultirange tstzmultirange datemultirange multirange
    """,
    "conditional": """
        coalesce nullif greatest least num_nulls num_nonnulls
    """,
    "session information": """
        current_catalog current_database current_role current_schema current_schemas
        current_user session_user version
    """,
    "type": """
        format_type pg_typeof to_regclass to_regtype to_regtypemod pg_size_pretty
        pg_size_bytes row bool int2 int4 int8 float4 float8 numeric text varchar bpchar date
        time timestamp timestamptz json jsonb uuid
    """,
}

#: Folded names of the allowed built-in functions, unqualified or qualified with pg_catalog.
SAFE_FUNCTIONS: frozenset[str] = frozenset(
    name for names in _FAMILIES.values() for name in names.split()
)

#: Function classes sqlglot builds from special syntax (``EXTRACT(… FROM …)``,
#: ``TRIM(BOTH … FROM …)``, ``CURRENT_DATE`` …) or from operators it renders as a call
#: (``2 ^ 3`` → ``POWER(2, 3)``), with the name PostgreSQL sees in the rendered SQL.
#: Ordinary calls ``name(args)`` are kept verbatim as ``exp.Anonymous`` (see parse.py).
TYPED_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.Ceil: "ceil",
    exp.Chr: "chr",
    exp.Concat: "concat",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentDate: "current_date",
    exp.CurrentSchema: "current_schema",
    exp.CurrentTimestamp: "current_timestamp",
    exp.CurrentUser: "current_user",
    exp.Decode: "decode",
    exp.Extract: "extract",
    exp.Floor: "floor",
    exp.GroupConcat: "string_agg",
    exp.Initcap: "initcap",
    exp.JSONArrayAgg: "json_agg",
    exp.JSONObject: "json_object",
    exp.JSONValue: "json_value",
    exp.Localtime: "localtime",
    exp.Localtimestamp: "localtimestamp",
    exp.Normalize: "normalize",
    exp.Overlay: "overlay",
    exp.Pow: "power",
    exp.SessionUser: "session_user",
    exp.Sqrt: "sqrt",
    exp.StrPosition: "position",
    exp.Substring: "substring",
    exp.Trim: "trim",
    exp.Unnest: "unnest",
}

#: Hints for refused functions, by name prefix. They only word the refusal; whether a function
#: is allowed is decided by SAFE_FUNCTIONS alone.
REFUSAL_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("set_config", "current_setting", "pg_settings"),
        "functions that read or change server settings are not available; "
        "put the values in the query itself (e.g. filter with WHERE) instead",
    ),
    (
        ("pg_sleep",),
        "functions that pause the server are not available; remove the call",
    ),
    (
        ("pg_advisory", "pg_try_advisory"),
        "lock functions are not available; read-only queries need no locks",
    ),
    (
        ("lo_", "loread", "lowrite"),
        "large-object functions are not available",
    ),
    (
        ("pg_read_", "pg_ls_", "pg_stat_file", "pg_file_", "pg_logdir_ls"),
        "file and directory functions are not available",
    ),
    (
        ("dblink", "postgres_fdw"),
        "functions that connect to other databases are not available",
    ),
    (
        (
            "query_to_xml",
            "table_to_xml",
            "cursor_to_xml",
            "schema_to_xml",
            "database_to_xml",
            "ts_stat",
            "ts_rewrite",
            "xpath",
        ),
        "functions that run SQL given as a string are not available; write the query directly",
    ),
    (
        ("nextval", "setval", "currval", "lastval"),
        "sequence functions are not available: they change or expose sequence state",
    ),
    (
        ("txid_", "pg_current_xact_id", "pg_snapshot"),
        "functions that assign or expose transaction ids are not available",
    ),
    (
        ("pg_notify",),
        "notification functions are not available",
    ),
    (
        (
            "pg_terminate_backend",
            "pg_cancel_backend",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_stat_reset",
            "pg_switch_wal",
            "pg_promote",
            "pg_create_",
            "pg_drop_",
            "pg_logical_",
            "pg_replication_",
            "pg_backup_",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_wal_",
            "pg_import_system_collations",
            "pg_log_backend",
        ),
        "server administration functions are not available",
    ),
)
