//! LDAP upstream (Active Directory, OpenLDAP, 389-DS): password check by
//! bind, directory sync by paged search (full and delta), objectGUID /
//! entryUUID as the external id, nested groups, disabled accounts. This step
//! holds the validated configuration only.

mod config;

pub use config::{Config, DEFAULT_PAGE_SIZE, LdapFlavor, MAX_PAGE_SIZE};
