fn main() {
    println!("kmedic-agent: not built yet");
}
