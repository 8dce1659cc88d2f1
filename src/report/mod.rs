//! Reports: [`measure`] turns runs into exact size and instruction reports and gate thresholds.

pub mod cputime;
pub mod measure;
