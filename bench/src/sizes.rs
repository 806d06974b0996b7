//! What a first visit downloads: every file of the release build, raw,
//! gzip (level 9) and brotli (quality 11, as a CDN precompresses).

use std::io::Write;
use std::path::Path;

/// Issue #7's budget for a first visit, all files, brotli.
pub const BUDGET_BROTLI: usize = 150 * 1024;

/// Against the budget: `Ok(bytes to spare)` or `Err(bytes over)`.
pub fn against_budget(brotli: usize) -> Result<usize, usize> {
    BUDGET_BROTLI.checked_sub(brotli).ok_or_else(|| brotli - BUDGET_BROTLI)
}

pub struct AssetSize {
    pub name: String,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

pub fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory").len()
}

pub fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("brotli into memory");
    out.len()
}

/// The files a browser fetches on a first visit: everything in `dist`
/// (wasm-bindgen's JS snippets in `snippets/` too) except `config.json`,
/// which belongs to the deployment, not the build, `404.html`, the same
/// page served instead of `index.html` by hosts without rewrites, and the
/// deployment check page's files ([`is_check_page`]).
pub fn first_visit(dist: &Path) -> Vec<AssetSize> {
    let mut sizes = all_files(dist);
    sizes.retain(|asset| asset.name != "config.json" && asset.name != "404.html" && !is_check_page(&asset.name));
    sizes
}

/// The deployment check page (`check/index.html` and the `check-*` files
/// scripts/build-check-page.sh writes): a deploying team opens it, a
/// clinician never does.
pub fn is_check_page(name: &str) -> bool {
    name.starts_with("check/") || name.starts_with("check-")
}

/// The check page's files.
pub fn check_page(dist: &Path) -> Vec<AssetSize> {
    let mut sizes = all_files(dist);
    sizes.retain(|asset| is_check_page(&asset.name));
    sizes
}

/// Every file under `dist`, largest first.
fn all_files(dist: &Path) -> Vec<AssetSize> {
    let mut files = Vec::new();
    let mut folders = vec![dist.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dist").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut sizes: Vec<AssetSize> = files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read asset");
            AssetSize {
                name: path.strip_prefix(dist).unwrap_or(&path).to_string_lossy().into_owned(),
                raw: bytes.len(),
                gzip: gzip_len(&bytes),
                brotli: brotli_len(&bytes),
            }
        })
        .collect();
    sizes.sort_by_key(|asset| std::cmp::Reverse(asset.raw));
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_150_kib_of_brotli() {
        assert_eq!(against_budget(150 * 1024), Ok(0));
        assert_eq!(against_budget(148 * 1024), Ok(2 * 1024));
        assert_eq!(against_budget(150 * 1024 + 1), Err(1));
    }

    #[test]
    fn the_check_page_is_not_part_of_a_first_visit() {
        let dist = std::env::temp_dir().join(format!("sizes-test-{}", std::process::id()));
        std::fs::create_dir_all(dist.join("check")).unwrap();
        for (name, text) in
            [("index.html", "app"), ("app_bg.wasm", "wasm"), ("check/index.html", "page"), ("check-1_bg.wasm", "w")]
        {
            std::fs::write(dist.join(name), text).unwrap();
        }
        let names = |assets: Vec<AssetSize>| {
            let mut names: Vec<String> = assets.into_iter().map(|a| a.name).collect();
            names.sort();
            names
        };
        assert_eq!(names(first_visit(&dist)), ["app_bg.wasm", "index.html"]);
        assert_eq!(names(check_page(&dist)), ["check-1_bg.wasm", "check/index.html"]);
        std::fs::remove_dir_all(dist).ok();
    }

    #[test]
    fn compression_shrinks_repetitive_input() {
        let text = "SMART on FHIR ".repeat(1000);
        assert!(gzip_len(text.as_bytes()) < 200);
        assert!(brotli_len(text.as_bytes()) < gzip_len(text.as_bytes()));
    }
}
