//! User Timing marks at the milestones a clinician waits for, visible in
//! the browser's performance tools and read by the benchmark
//! (`scripts/bench.sh`). They carry no data, only a name.

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    /// Records `name` on the page's performance timeline.
    pub fn mark(name: &str);
    #[wasm_bindgen(js_name = markWhenDrawn)]
    fn mark_when_drawn_js(name: &str);
}

/// Records `name` at the next animation frame: after the reactive updates
/// already queued have reached the DOM, just before it is painted.
pub fn mark_when_drawn(name: String) {
    mark_when_drawn_js(&name);
}
