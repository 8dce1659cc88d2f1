//! Reports: [`measure`] turns runs into exact size and instruction reports and gate thresholds;
//! [`render`] writes them as Markdown, JSON and an SVG chart.

pub mod cputime;
pub mod measure;
pub mod render;
