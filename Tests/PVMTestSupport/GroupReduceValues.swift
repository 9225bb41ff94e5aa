/// The values a group member contributes to the reduce tests: item `i` of
/// instance `inst`. The spawned test task (Tests/PVMTestTask, `reduce-all`)
/// packs them and GroupTests computes the expected reductions from the
/// same functions. Integers reach both ends of their range; floats are
/// small multiples of 0.5, so sums and products are exact in any order.
public func groupInteger<T: FixedWidthInteger>(_: T.Type, _ inst: Int, _ i: Int) -> T {
    switch i % 5 {
    case 4: return T.max - T(inst)
    case 3: return T.min + T(inst)
    default:
        let v = (inst * 7 + i * 3) % 11 - 5
        return T.isSigned ? T(v) : T(v + 6)
    }
}

public func groupReal<T: BinaryFloatingPoint>(_: T.Type, _ inst: Int, _ i: Int) -> T {
    let m = (inst * 7 + i * 3) % 11 - 5
    return m == 0 ? 1.5 : T(m) * 0.5
}
