import ArgumentParser
import Foundation
import Gateway
import Profiles
import SunSpec

/// `sunspec-gateway profile check|show FILE`.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Check a vendor profile, or show what it reads and maps.",
        subcommands: [Check.self, Show.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a profile against the SunSpec model definitions (exit 78 on a mistake).")

        @Argument(help: "The profile (YAML).")
        var file: String

        func run() throws {
            let profile = try loadProfile(file)
            let plan = profile.readPlan()
            let points = profile.models.reduce(0) {
                $0 + $1.points.count + $1.groups.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            }
            print(
                "\(file): ok: profile \(profile.name) (\(profile.vendor) \(profile.product)): models \(profile.models.map { String($0.definition.id) }.joined(separator: ", ")), \(points) points, \(plan.count) reads per poll"
            )
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a profile's read plan and where each SunSpec point comes from.")

        @Argument(help: "The profile (YAML).")
        var file: String

        func run() throws {
            let profile = try loadProfile(file)
            print("profile \(profile.name): \(profile.vendor) \(profile.product)")
            print("source: \(profile.source)")
            print(
                "unit \(profile.defaults.unit), \(profile.defaults.function.rawValue) registers, words \(profile.defaults.wordOrder.rawValue)"
            )
            print("read plan:")
            for block in profile.readPlan() {
                let last = block.start + block.count - 1
                print("  function \(block.function.functionCode)  \(block.start)...\(last)  (\(block.count) registers)")
            }
            for model in profile.models {
                print("model \(model.definition.id) \(model.definition.name):")
                for point in model.definition.group.points {
                    guard let source = model.points[point.name] else { continue }
                    print("  " + pad(point.name, 16) + describe(source))
                }
                for (group, instances) in model.groups.sorted(by: { $0.key < $1.key }) {
                    for (i, sources) in instances.enumerated() {
                        for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
                            print("  " + pad("\(group)[\(i)].\(name)", 16) + describe(source))
                        }
                    }
                }
            }
        }

        func describe(_ source: PointSource) -> String {
            switch source {
            case .notImplemented: return "not implemented (null)"
            case .constant(.number(let n)): return "constant \(n)"
            case .constant(.text(let t)): return "constant \"\(t)\""
            case .bits(let bits): return bits.map { "bit \($0.bit) of \($0.address) -> bit \($0.to)" }.joined(separator: ", ")
            case .register(let r):
                var text = "fc\(r.function.functionCode) \(r.address) \(r.type.rawValue)"
                if r.type.registerCount(size: r.size) > 1 && r.type != .string { text += " \(r.wordOrder.rawValue)" }
                if r.scale != 1 { text += " x\(r.scale)" }
                if r.offset != 0 { text += " +\(r.offset)" }
                if r.invert { text += " inverted" }
                if !r.map.isEmpty {
                    text += " map \(r.map.sorted { $0.key < $1.key }.map { "\($0.key)->\($0.value)" }.joined(separator: " "))"
                }
                if !r.flags.isEmpty { text += " flags \(r.flags.map { "bit\($0.bit)->\($0.value)" }.joined(separator: " "))" }
                if let s = r.sign { text += " sign +\(s.positive) -\(s.negative) 0:\(s.zero)" }
                if !r.sentinels.isEmpty { text += " null if \(r.sentinels.map { String($0, radix: 16) }.joined(separator: "/"))" }
                return text
            }
        }

        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    }
}

/// A profile, or exit 78 with its one-line error.
func loadProfile(_ file: String) throws -> Profile {
    do {
        return try Profile.load(path: file)
    } catch {
        printError(error.description)
        throw ExitCode(78)
    }
}
