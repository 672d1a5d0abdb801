import SunSpec
import Testing

@testable import Simulation

@Suite("The demo's animation stays physical")
struct AnimationTests {
    @Test(
        "every half second of four minutes, the animated demo devices decode to physical values",
        arguments: [UInt8(1), 2])
    func physical(unit: UInt8) throws {
        var image = try #require(DemoSystem.devices().image(unit: unit))
        let animation = Animation(image: image)
        #expect(animation.count > 20)
        var violations: [String] = []
        for step in 0...480 {  // the waves' periods are 20-60 s: every phase of each is met
            let seconds = Double(step) / 2
            animation.apply(at: seconds, to: &image)
            violations += PhysicalChecks(try DeviceDecoder.decode(image)).violations.map { "at \(seconds) s: \($0)" }
        }
        #expect(violations.isEmpty, "\(violations.count) violations, the first: \(violations.prefix(8))")
    }

    @Test("a device with no SunSpec map (the demo's Sungrow) has nothing that moves")
    func vendorDevice() throws {
        let image = try #require(DemoSystem.devices().image(unit: 3))
        #expect(Animation(image: image).count == 0)
    }
}

/// The relations a measured device's values keep: a minimum at most its average at most its
/// maximum, percentages in range, a string's cells within the battery's extremes, a module's within
/// its string's, a string's voltage within the bank's.
struct PhysicalChecks {
    private(set) var violations: [String] = []

    init(_ device: DecodedDevice) {
        var battery: [String: Double] = [:]  // 802's extremes
        var bank: [String: Double] = [:]  // 803's
        for instance in device.models {
            guard let definition = instance.model.definition, let values = instance.model.values else { continue }
            let model = instance.model
            let top = Self.numbers(definition.group, values, model)
            check(definition.group, values, model, path: "\(model.id)@\(instance.address)")
            switch model.id {
            case 802: battery = top
            case 803: bank = top
            case 804:
                let path = "804@\(instance.address)"
                within(top["CellVMin"], top["CellVMax"], battery["CellVMin"], battery["CellVMax"], "\(path) cells", "802's")
                within(top["V"], top["V"], bank["StrVMin"], bank["StrVMax"], "\(path).V", "803's StrVMin...StrVMax")
                guard let g = definition.group.groups.firstIndex(where: { $0.name == "lithium_ion_string_module" }) else { continue }
                for (n, module) in values.groups[g].enumerated() {
                    let m = Self.numbers(definition.group.groups[g], module, model)
                    within(
                        m["ModCellVMin"], m["ModCellVMax"], top["CellVMin"], top["CellVMax"], "\(path) module \(n + 1) cells",
                        "its string's CellVMin...CellVMax")
                }
            default: break
            }
        }
    }

    /// Min <= Avg <= Max for every `XMin`/`XMax` pair, percentages in range; in every group instance.
    private mutating func check(_ group: GroupDefinition, _ values: GroupValues, _ model: DecodedModel, path: String) {
        let numbers = Self.numbers(group, values, model)
        for (name, low) in numbers where name.hasSuffix("Min") {
            let x = String(name.dropLast(3))
            guard let high = numbers[x + "Max"] else { continue }
            if let average = numbers[x + "Avg"] {
                order([low, average, high], "\(path).\(x)Min <= \(x)Avg <= \(x)Max")
            } else {
                order([low, high], "\(path).\(x)Min <= \(x)Max")
            }
        }
        for point in group.points {
            guard let v = numbers[point.name], let units = point.units else { continue }
            let range: ClosedRange<Double>? =
                switch units {
                case "%", "%WHRtg": 0...100
                case "Pct": -100...100
                case "PF": -1...1
                default: nil
                }
            if let range, !range.contains(v) { violations.append("\(path).\(point.name) \(v) \(units) outside \(range)") }
        }
        for (g, sub) in group.groups.enumerated() {
            for (n, instance) in values.groups[g].enumerated() {
                check(sub, instance, model, path: "\(path).\(sub.name)[\(n + 1)]")
            }
        }
    }

    private mutating func order(_ values: [Double], _ what: String) {
        if zip(values, values.dropFirst()).contains(where: { $0 > $1 + 1e-9 }) {
            violations.append("\(what): \(values.map { "\($0)" }.joined(separator: ", "))")
        }
    }

    /// `low...high` lies within `outerLow...outerHigh` (when all four are known).
    private mutating func within(
        _ low: Double?, _ high: Double?, _ outerLow: Double?, _ outerHigh: Double?, _ what: String, _ outer: String
    ) {
        guard let low, let high, let outerLow, let outerHigh else { return }
        if low < outerLow - 1e-9 || high > outerHigh + 1e-9 {
            violations.append("\(what) \(low)...\(high) outside \(outer) \(outerLow)...\(outerHigh)")
        }
    }

    /// The numeric values of a group instance's own points, by name.
    private static func numbers(_ group: GroupDefinition, _ values: GroupValues, _ model: DecodedModel) -> [String: Double] {
        var numbers: [String: Double] = [:]
        for (i, point) in group.points.enumerated() {
            if let v = model.value(values, i).doubleValue { numbers[point.name] = v }
        }
        return numbers
    }
}
