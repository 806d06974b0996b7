//! nginx serving the release build with the location block `smart-deploy`
//! writes: the deployment guide's configuration, exercised by every test
//! that runs against the sandbox (CSP, cache headers, SPA rewrites).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx on `port` with `location` (an nginx `location` block)
    /// in its only server; `dir` holds its files and is removed on drop.
    /// Fails if nginx exits (the port was taken, say) or another server
    /// answers on the port.
    pub fn start(port: u16, dir: &Path, location: &str) -> Result<Nginx, String> {
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  \
             fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    server_name localhost;\n{location}\n  }}\n}}\n",
            dir = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::File::create(&path).and_then(|mut f| f.write_all(conf.as_bytes())).expect("write nginx.conf");
        let nginx = std::env::var("NGINX").unwrap_or_else(|_| "nginx".into());
        let child = Command::new(&nginx)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx (scripts/setup.sh --browser installs it)");
        // Dropped on failure: stops nginx and removes the directory.
        let mut server = Nginx { port, child, dir: dir.to_path_buf() };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let reply = crate::http("HEAD", &format!("http://127.0.0.1:{port}/"), &[], "");
                return match reply.headers.get("server") {
                    Some(name) if name.starts_with("nginx") => Ok(server),
                    other => Err(format!("port {port} answers as {other:?}, not nginx")),
                };
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err("nginx did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A location block for the fhirclient peer's Vite build in `root`, with
/// the cache rules the app's block has: pages revalidated, the
/// content-hashed `assets/` kept a year. (No CSP: the peer ships none.)
pub fn peer_location(root: &Path) -> String {
    format!(
        "location / {{\n    root {root};\n    \
         types {{ text/html html; text/css css; text/javascript js; application/json json; }}\n    \
         add_header Cache-Control \"{revalidate}\" always;\n    \
         location /assets/ {{\n        add_header Cache-Control \"{hashed}\" always;\n    }}\n}}\n",
        root = root.display(),
        revalidate = smart_deploy::CACHE_REVALIDATE,
        hashed = smart_deploy::CACHE_HASHED,
    )
}

/// Copies the files of a built app into `target` (created).
pub fn copy_dist(dist: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("create the site directory");
    for entry in std::fs::read_dir(dist).expect("read dist").flatten() {
        let path = entry.path();
        if path.is_dir() {
            // wasm-bindgen's JS snippets (`snippets/`).
            copy_dist(&path, &target.join(entry.file_name()));
        } else {
            std::fs::copy(&path, target.join(entry.file_name())).expect("copy a built file");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_port_another_server_holds_is_refused() {
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = other.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in other.incoming().flatten() {
                let _ = stream.read(&mut [0; 1024]);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        let dir = std::env::temp_dir().join(format!("e2e-nginx-taken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let started = Nginx::start(port, &dir, "location / { return 204; }");
        assert!(started.is_err(), "nginx claimed a port another server holds");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
