fn main() {
    println!("kmedic-master: not built yet");
}
