fn main() {
    let dist = e2e::dist_dir();
    let sizes = e2e::sizes::first_visit(&dist);
    let (mut raw, mut gz, mut br) = (0, 0, 0);
    for s in &sizes {
        println!("{:>9} {:>9} {:>9}  {}", s.raw, s.gzip, s.brotli, s.name);
        raw += s.raw;
        gz += s.gzip;
        br += s.brotli;
    }
    println!("{raw:>9} {gz:>9} {br:>9}  total");
}
