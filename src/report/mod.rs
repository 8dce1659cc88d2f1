//! Reports: [`measure`] turns runs into exact size and instruction reports, [`thresholds`]
//! checks the gate's rules against them, and [`render`] writes them as Markdown, JSON and an SVG
//! chart.

pub mod measure;
pub mod render;
pub mod thresholds;
