//! The guest's address space: `/proc/self/maps` text and CinderX's perf map
//! (`/tmp/perf-PID.map`, written with `CINDERX_JIT_PERF_MAP=1`).
//!
//! The perf map is what places the dump: `dump_elf` writes every function at a made-up address
//! (packed from 0x1000), so pc-relative targets (`bl`, `b`, `adrp`) only mean something once the
//! function's real address is known. The perf map names each function's code sections
//! (`ADDR SIZE __CINDER_JIT:module:qualname`, hex, contiguous) and CinderX's own JIT code
//! (`__CINDER_INFRA_JIT:deopt_trampoline`, ...).

/// One line of `/proc/self/maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `r`, `w`, `x` as given.
    pub perms: String,
    /// File offset of `start`.
    pub offset: u64,
    /// File path; empty for anonymous memory, `[name]` for kernel pseudo-mappings.
    pub path: String,
}

impl Mapping {
    /// Is the mapping executable?
    pub fn exec(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }
    /// Is it backed by a file (not anonymous, not `[stack]`/`[vdso]`/...)?
    pub fn file_backed(&self) -> bool {
        self.path.starts_with('/')
    }
}

fn hex(s: &str, what: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|_| format!("{what} `{s}` is not a hex number"))
}

/// Parse `/proc/self/maps` text. Every non-empty line must be a mapping ([`parse_line`]).
pub fn parse_maps(text: &str) -> Result<Vec<Mapping>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            out.push(parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?);
        }
    }
    if out.is_empty() {
        return Err("no mappings".into());
    }
    Ok(out)
}

/// Parse one `/proc/self/maps` line: address range, permissions, offset, device and inode, then
/// the path, which is optional and may contain spaces. Errors say what is wrong, not where.
pub fn parse_line(line: &str) -> Result<Mapping, String> {
    let mut f = line.split_whitespace();
    let mut field = |what: &str| {
        f.next()
            .ok_or_else(|| format!("missing {what} in `{line}` (expected a /proc/self/maps line)"))
    };
    let range = field("address range")?;
    let perms = field("permissions")?.to_string();
    let offset = hex(field("offset")?, "offset")?;
    field("device")?;
    field("inode")?;
    let (a, b) = range
        .split_once('-')
        .ok_or_else(|| format!("bad address range `{range}` (expected start-end)"))?;
    let (start, end) = (hex(a, "start address")?, hex(b, "end address")?);
    if start >= end {
        return Err(format!("empty or reversed mapping `{range}`"));
    }
    if perms.len() != 4 {
        return Err(format!("bad permissions `{perms}` in `{line}`"));
    }
    Ok(Mapping {
        start,
        end,
        perms,
        offset,
        path: path_after_inode(line).unwrap_or_default(),
    })
}

/// The text after the fifth whitespace-separated column, trimmed.
fn path_after_inode(line: &str) -> Option<String> {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace)?;
        rest = &rest[end..];
    }
    Some(rest.trim().to_string())
}

/// Prefix of a compiled Python function's name in the perf map.
pub const JIT_PREFIX: &str = "__CINDER_JIT:";

/// One contiguous code buffer named in a perf map (consecutive same-name lines merged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfSymbol {
    /// First address (the entry).
    pub addr: u64,
    /// Total size of the merged sections.
    pub size: u64,
    /// Name as written, e.g. `__CINDER_JIT:__main__:f`.
    pub name: String,
}

/// Parse a perf map (`ADDR SIZE NAME`, hex without `0x`). A `__CINDER_JIT:` line is merged into
/// the previous one when it has the same name and starts where that one ends: CinderX writes one
/// line per code section of a compiled function (body, then stubs), and only the first is an
/// entry. A `__CINDER_JIT:` line repeating a section already inside the previous one (CinderX
/// sometimes writes a section's line twice) is dropped. Other lines (CinderX's own trampolines)
/// stay separate: each is an entry.
pub fn parse_perf_map(text: &str) -> Result<Vec<PerfSymbol>, String> {
    let mut out: Vec<PerfSymbol> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.trim().splitn(3, ' ');
        let (a, s, name) = match (f.next(), f.next(), f.next()) {
            (Some(a), Some(s), Some(name)) => (a, s, name.trim()),
            _ => return Err(format!("line {n}: expected `ADDR SIZE NAME`, got `{line}`")),
        };
        let at = |e: String| format!("line {n}: {e}");
        let addr = hex(a.trim_start_matches("0x"), "address").map_err(at)?;
        let size = hex(s.trim_start_matches("0x"), "size").map_err(at)?;
        match out.last_mut() {
            Some(p)
                if name.starts_with(JIT_PREFIX) && p.name == name && p.addr + p.size == addr =>
            {
                p.size += size
            }
            Some(p)
                if name.starts_with(JIT_PREFIX)
                    && p.name == name
                    && p.addr <= addr
                    && addr + size <= p.addr + p.size => {}
            _ => out.push(PerfSymbol {
                addr,
                size,
                name: name.to_string(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse_with_and_without_paths() {
        let m = parse_maps(
            "400000-aec000 r-xp 00000000 fe:00 5309534   /usr/bin/python3.14\n\
             7f03bc400000-7f03bc600000 rwxp 00000000 00:00 0 \n\
             7f03bdfff000-7f03be7ff000 rw-p 00000000 00:00 0                          [stack]\n\
             7f0000000000-7f0000001000 r-xp 00001000 fe:00 7   /opt/a dir/lib x.so\n",
        )
        .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].path, "/usr/bin/python3.14");
        assert!(m[0].exec() && m[0].file_backed());
        assert_eq!(
            (m[1].start, m[1].end, m[1].path.as_str()),
            (0x7f03bc400000, 0x7f03bc600000, "")
        );
        assert!(!m[2].file_backed() && !m[2].exec());
        assert_eq!(m[3].path, "/opt/a dir/lib x.so");
        assert_eq!(m[3].offset, 0x1000);
    }

    #[test]
    fn malformed_maps_are_errors_naming_the_line() {
        for bad in [
            "400000 r-xp 0 fe:00 1 /x",
            "400000-zz r-xp 0 fe:00 1 /x",
            "400000-500000 r-xp",
            "500000-400000 r-xp 0 fe:00 1 /x",
            "",
        ] {
            let e = parse_maps(bad).unwrap_err();
            assert!(
                e.contains("line 1") || e.contains("no mappings"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn perf_map_merges_a_functions_sections() {
        let p = parse_perf_map(
            "7fad21c00000 98 __CINDER_INFRA_JIT:deopt_trampoline\n\
             7fad21c00098 20 __CINDER_INFRA_JIT:deopt_trampoline\n\
             7fad21c000c0 270 __CINDER_JIT:__main__:f\n\
             7fad21c00330 a0 __CINDER_JIT:__main__:f\n\
             7fad21c00330 a0 __CINDER_JIT:__main__:f\n",
        )
        .unwrap();
        // The repeated stubs line (as CinderX wrote it for a 1 MiB function) is dropped.
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!((p[1].addr, p[1].size), (0x7fad21c00098, 0x20));
        assert_eq!((p[2].addr, p[2].size), (0x7fad21c000c0, 0x310));
        assert_eq!(p[2].name, "__CINDER_JIT:__main__:f");
        assert!(parse_perf_map("7fad21c00000 zz x\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(parse_perf_map("7fad21c00000\n")
            .unwrap_err()
            .contains("line 1"));
    }
}
