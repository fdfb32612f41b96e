fn main() {
    let p = std::path::Path::new(&std::env::args().nth(1).unwrap()).to_path_buf();
    let l = pangeo_render::config::load(&p).unwrap_or_else(|e| panic!("{e:?}"));
    let (s, _) = pangeo_render::secrets::resolve(None, &[], Some("password123"));
    for a in pangeo_render::render::render(&l.config, &s, &Default::default(), "x").unwrap() {
        println!("=== {}\n{}", a.file_name, a.text);
    }
}
