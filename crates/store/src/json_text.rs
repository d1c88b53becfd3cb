//! JSON bound as PostgreSQL `json` instead of `jsonb`, for columns that are only stored and read back.
//!
//! sqlx binds its `Json` as `jsonb`, which PostgreSQL parses into its binary form on every insert (a lexer
//! pass, then sorting each object's keys): in a first Google sync, with a feed row and a link per person,
//! `jsonb_recv` was ~18 % of the backends' CPU. A `json` column keeps the text as sent after checking it,
//! and reads return it as stored. Columns queried with JSON operators or containment stay `jsonb`
//! (`docs/adr/0001-storage.md`). On SQLite this is TEXT, like sqlx's `Json`; reads decode with sqlx's
//! `Json`, which accepts both PostgreSQL types.

use serde::Serialize;
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentsBuffer, SqliteTypeInfo};
use sqlx::types::{Json, Type};

/// PostgreSQL's `json` type (`pg_type.oid`, fixed since PostgreSQL 9.2).
const JSON_OID: Oid = Oid(114);
/// PostgreSQL's `json[]` type (`pg_type.oid`).
const JSON_ARRAY_OID: Oid = Oid(199);

/// A value bound as JSON text: PostgreSQL `json`, SQLite TEXT.
#[derive(Debug, Clone, Copy)]
pub struct JsonText<T>(pub T);

impl<T> Type<Postgres> for JsonText<T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_OID)
    }
}

/// Arrays of JSON text (`json[]`), for statements that insert many rows through `UNNEST`.
impl<T> PgHasArrayType for JsonText<T> {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_ARRAY_OID)
    }
}

impl<T: Serialize> Encode<'_, Postgres> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // `json`'s binary format is its text.
        serde_json::to_writer(&mut **buf, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T> Type<Sqlite> for JsonText<T> {
    fn type_info() -> SqliteTypeInfo {
        <Json<T> as Type<Sqlite>>::type_info()
    }
}

impl<T: Serialize> Encode<'_, Sqlite> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(Json(&self.0), buf)
    }
}
