//! `Timestamp`: a UTC instant with microsecond precision, serialized as RFC 3339.
//! The store encodes it as `timestamptz` on PostgreSQL and as integer
//! microseconds on SQLite, so ordering and comparison work in SQL on both.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    pub fn from_offset(t: OffsetDateTime) -> Self {
        let micros = (t.unix_timestamp_nanos() / 1000) as i64;
        Self::from_unix_micros(micros).unwrap_or(Self::EPOCH)
    }
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok().map(Self)
    }
    pub fn unix_micros(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1000) as i64
    }
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }
    pub fn as_offset(&self) -> OffsetDateTime {
        self.0
    }
    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self::from_unix_micros(self.unix_micros().saturating_add(seconds.saturating_mul(1_000_000))).unwrap_or(*self)
    }
    pub fn rfc3339(&self) -> String {
        self.0.format(&Rfc3339).unwrap_or_default()
    }
    pub fn parse(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339).ok().map(Self::from_offset)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_micros_and_round_trips_rfc3339() {
        let t = Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(Timestamp::parse(&t.rfc3339()), Some(t));
        assert_eq!(t.plus_seconds(1).unix_micros(), 1_700_000_001_123_456);
    }
}
