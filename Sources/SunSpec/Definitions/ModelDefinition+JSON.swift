extension ModelDefinition {
    /// Parses one model in the official SunSpec JSON format (`{"id":..,"group":{...}}`) and checks it.
    /// Errors name the byte offset (syntax) or the key path (content).
    public convenience init(json: some Collection<UInt8>) throws(DefinitionError) {
        let file: OfficialModel
        do {
            file = try JSONScanner.scan(ArraySlice(json)) { (s: inout JSONScanner) throws(JSONScanner.Failure) in
                try OfficialModel.read(&s)
            }
        } catch {
            throw DefinitionError("offset \(error.offset): \(error.message)")
        }
        guard let id = file.id else { throw DefinitionError("missing key 'id'") }
        guard (1...65534).contains(id) else { throw DefinitionError("model id \(id) is outside 1...65534") }
        guard let top = file.group else { throw DefinitionError("model \(id): missing key 'group'") }
        let group = try top.definition(path: "group", modelID: id)
        try self.init(id: id, group: group)
    }
}

// MARK: - The official file format, as read

private struct OfficialModel {
    var id: Int?
    var group: OfficialGroup?

    static func read(_ s: inout JSONScanner) throws(JSONScanner.Failure) -> OfficialModel {
        var model = OfficialModel()
        try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
            switch key {
            case "id": model.id = try s.integerOrNull("id")
            case "group": model.group = try OfficialGroup.read(&s, path: "group")
            default: try s.skipValue()
            }
        }
        return model
    }
}

/// A count, sf or value: an integer or a name.
private enum IntOrString {
    case int(Int)
    case string(String)

    static func read(_ s: inout JSONScanner, path: String) throws(JSONScanner.Failure) -> IntOrString? {
        if try s.null() { return nil }
        if s.peek == UInt8(ascii: "\"") { return .string(try s.string()) }
        if let n = try s.integer() { return .int(n) }
        throw s.fail("\(path): expected an integer or a string")
    }
}

private struct OfficialGroup {
    var name: String?
    var label: String?
    var count: IntOrString?
    var points: [OfficialPoint] = []
    var groups: [OfficialGroup] = []

    static func read(_ s: inout JSONScanner, path: String) throws(JSONScanner.Failure) -> OfficialGroup {
        var group = OfficialGroup()
        try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
            switch key {
            case "name": group.name = try s.stringOrNull("\(path).name")
            case "label": group.label = try s.stringOrNull("\(path).label")
            case "count": group.count = try IntOrString.read(&s, path: "\(path).count")
            case "points":
                try s.array { (s: inout JSONScanner, i: Int) throws(JSONScanner.Failure) in
                    group.points.append(try OfficialPoint.read(&s, path: "\(path).points[\(i)]"))
                }
            case "groups":
                try s.array { (s: inout JSONScanner, i: Int) throws(JSONScanner.Failure) in
                    group.groups.append(try OfficialGroup.read(&s, path: "\(path).groups[\(i)]"))
                }
            default: try s.skipValue()
            }
        }
        return group
    }

    func definition(path: String, modelID: Int) throws(DefinitionError) -> GroupDefinition {
        guard let name else { throw DefinitionError("model \(modelID): \(path): missing key 'name'") }
        let here = "\(path)(\(name))"
        var count: GroupCount?
        switch self.count {
        case nil: count = nil
        case .int(let n) where n == 0: count = .fromLength
        case .int(let n) where n > 0: count = .fixed(n)
        case .int(let n): throw DefinitionError("model \(modelID): \(here): count \(n) is negative")
        case .string(let s): count = .point(s)
        }
        var points: [PointDefinition] = []
        for (i, p) in self.points.enumerated() {
            points.append(try p.definition(path: "\(here).points[\(i)]", modelID: modelID))
        }
        var names = Set<String>()
        for p in points where !names.insert(p.name).inserted {
            throw DefinitionError("model \(modelID): \(here): point '\(p.name)' is defined twice")
        }
        var groups: [GroupDefinition] = []
        for (i, g) in self.groups.enumerated() {
            groups.append(try g.definition(path: "\(here).groups[\(i)]", modelID: modelID))
        }
        return GroupDefinition(name: name, label: label, count: count, points: points, groups: groups)
    }
}

private struct OfficialPoint {
    var name: String?
    var type: String?
    var size: Int?
    var sf: IntOrString?
    var units: String?
    var access: String?
    var mandatory: String?
    var isStatic: String?
    var value: IntOrString?
    var symbols: [Symbol] = []
    var label: String?

    static func read(_ s: inout JSONScanner, path: String) throws(JSONScanner.Failure) -> OfficialPoint {
        var point = OfficialPoint()
        try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
            switch key {
            case "name": point.name = try s.stringOrNull("\(path).name")
            case "type": point.type = try s.stringOrNull("\(path).type")
            case "size": point.size = try s.integerOrNull("\(path).size")
            case "sf": point.sf = try IntOrString.read(&s, path: "\(path).sf")
            case "units": point.units = try s.stringOrNull("\(path).units")
            case "access": point.access = try s.stringOrNull("\(path).access")
            case "mandatory": point.mandatory = try s.stringOrNull("\(path).mandatory")
            case "static": point.isStatic = try s.stringOrNull("\(path).static")
            case "label": point.label = try s.stringOrNull("\(path).label")
            case "value":
                if s.peek == UInt8(ascii: "\"") || (try? s.null()) == true || s.peek == UInt8(ascii: "-")
                    || (s.peek.map { $0 >= 48 && $0 <= 57 } ?? false)
                {
                    point.value = try IntOrString.read(&s, path: "\(path).value")
                } else {
                    try s.skipValue()
                }
            case "symbols":
                try s.array { (s: inout JSONScanner, i: Int) throws(JSONScanner.Failure) in
                    var name: String?
                    var value: Int?
                    try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
                        switch key {
                        case "name": name = try s.stringOrNull("\(path).symbols[\(i)].name")
                        case "value": value = try s.integerOrNull("\(path).symbols[\(i)].value")
                        default: try s.skipValue()
                        }
                    }
                    guard let name, let value else { throw s.fail("\(path).symbols[\(i)]: a symbol needs a name and an integer value") }
                    point.symbols.append(Symbol(name: name, value: Int64(value)))
                }
            default: try s.skipValue()
            }
        }
        return point
    }

    func definition(path: String, modelID: Int) throws(DefinitionError) -> PointDefinition {
        guard let name else { throw DefinitionError("model \(modelID): \(path): missing key 'name'") }
        let here = "\(path)(\(name))"
        guard let typeName = self.type else { throw DefinitionError("model \(modelID): \(here): missing key 'type'") }
        guard let type = PointType(rawValue: typeName) else {
            throw DefinitionError("model \(modelID): \(here): unknown type '\(typeName)'")
        }
        let size: Int
        if let fixed = type.registerCount {
            if let given = self.size, given != fixed {
                throw DefinitionError("model \(modelID): \(here): size \(given) does not fit type \(type.rawValue) (\(fixed) registers)")
            }
            size = fixed
        } else {
            guard let given = self.size, (1...1000).contains(given) else {
                throw DefinitionError("model \(modelID): \(here): a string needs a size of 1...1000 registers")
            }
            size = given
        }
        var scaleFactor: ScaleFactor?
        switch sf {
        case nil: scaleFactor = nil
        case .int(let n):
            guard (-10...10).contains(n) else {
                throw DefinitionError("model \(modelID): \(here): constant scale factor \(n) is outside -10...10")
            }
            scaleFactor = .constant(n)
        case .string(let s): scaleFactor = .point(s, reference: nil)
        }
        let access: Access
        switch self.access {
        case nil, "R": access = .read
        case "RW", "W": access = .readWrite
        case let other?: throw DefinitionError("model \(modelID): \(here): access '\(other)' is not R or RW")
        }
        let value: DefinitionValue? =
            switch self.value {
            case nil: nil
            case .int(let n): .integer(Int64(n))
            case .string(let s): .text(s)
            }
        return PointDefinition(
            name: name, type: type, size: size, scaleFactor: scaleFactor, units: units, access: access,
            mandatory: mandatory == "M", isStatic: isStatic == "S", value: value, symbols: symbols, label: label)
    }
}
